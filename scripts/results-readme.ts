/**
 * `npm run results:readme`: rewrites the README's Performance and Reliability tables from the saved results
 * (see bench/readme-tables.ts). `--check` changes nothing and exits 1 when README.md is not what the saved
 * results give (CI runs it; a unit spec checks the same); either way it notes code changed since the measured
 * commits.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceState } from '../bench/provenance';
import { BENCH_RESULTS, RELIABILITY_RESULTS, changedSince, readmeFromResults } from '../bench/readme-tables';

function sourceOf(file: string): SourceState | null {
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { source?: SourceState }).source ?? null;
}

async function main(): Promise<void> {
  const root = process.cwd();
  const check = process.argv.includes('--check');
  const readmePath = join(root, 'README.md');
  const expected = await readmeFromResults(root);
  for (const [what, file] of [
    ['benchmark', BENCH_RESULTS],
    ['reliability', RELIABILITY_RESULTS],
  ] as const) {
    const source = sourceOf(join(root, file));
    const changed = source ? changedSince(root, source.commit) : null;
    if (changed && changed.length > 0) {
      process.stdout.write(
        `note: the ${what} results are of ${source!.commit!.slice(0, 7)}; ${changed.length} file(s) changed since (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''})\n`,
      );
    }
  }
  const current = readFileSync(readmePath, 'utf8');
  if (check) {
    if (current !== expected) {
      process.stderr.write(
        'README.md is not in step with the saved results: run `npm run results:readme` and commit README.md\n',
      );
      process.exit(1);
    }
    process.stdout.write('README.md is in step with the saved results\n');
    return;
  }
  if (current !== expected) writeFileSync(readmePath, expected);
  process.stdout.write(
    current === expected ? 'README.md already in step\n' : 'README.md updated from the saved results\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
