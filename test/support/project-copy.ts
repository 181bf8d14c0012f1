import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = process.cwd();

/** Copies a folder tree with hard links where the file system allows (fast, no extra space), else plainly. */
export function copyTree(from: string, to: string): void {
  const linked = spawnSync('cp', ['-al', from, to], { stdio: 'ignore' });
  if (linked.status !== 0) {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

export interface ProjectCopyOptions {
  /** Paths relative to the project root copied (really: the test may change them) into the new folder. */
  files: string[];
  /** Mode of the new folder; default mkdtemp's 0700. */
  mode?: number;
  /** node_modules entries really copied into the folder (the others are links to the project's). */
  copyModules?: string[];
  /** node_modules entries left out, as if never installed. */
  omitModules?: string[];
}

/**
 * The project (or the parts a test needs) in a new folder, private by default (mkdtemp: mode 0700, as `mktemp -d`
 * or a home folder), for tests that start it "somewhere else" or change its files. Its node_modules links to the
 * project's, except the entries copied (hard links where possible: never written to) or left out.
 */
export function copyProject(options: ProjectCopyOptions): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'opal-force-sync-copy-'));
  if (options.mode !== undefined) chmodSync(dir, options.mode);
  for (const file of options.files) {
    cpSync(join(ROOT, file), join(dir, file), { recursive: true, verbatimSymlinks: true });
  }
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (options.omitModules?.includes(entry)) continue;
    if (options.copyModules?.includes(entry))
      copyTree(join(ROOT, 'node_modules', entry), join(modules, entry));
    else symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
