/**
 * What a results file must say about where its figures come from: the commit and whether the tree differed from
 * it, the machine, Node, and how busy the machine was. Shared by the benchmark and the reliability suite.
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';

export interface SourceState {
  /** Full SHA of HEAD, or null outside a git checkout. */
  commit: string | null;
  /**
   * True when `git status --porcelain` listed anything outside the saved results (the figures may not be those
   * of `commit`). Results written by an earlier run (benchmark, then reliability suite) do not count.
   */
  dirty: boolean | null;
  /** The first lines of `git status --porcelain` when dirty. */
  dirty_files: string[];
}

export interface MachineState {
  cores: number;
  cpu_model: string;
  memory_gb: number;
  os: string;
  node: string;
}

/** 1-, 5- and 15-minute load averages. */
export type LoadAverage = [number, number, number];

function git(args: string[], cwd: string): string | null {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return result.status === 0 ? result.stdout : null;
}

export function sourceState(cwd: string): SourceState {
  const commit = git(['rev-parse', 'HEAD'], cwd)?.trim() ?? null;
  if (commit === null) return { commit: null, dirty: null, dirty_files: [] };
  const status = git(
    ['status', '--porcelain', '--', '.', ':(exclude)bench/results', ':(exclude)test/reliability/results'],
    cwd,
  );
  const lines = (status ?? '').split('\n').filter((line) => line.length > 0);
  return { commit, dirty: status === null ? null : lines.length > 0, dirty_files: lines.slice(0, 20) };
}

export function machineState(): MachineState {
  return {
    cores: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    os: `${osType()} ${release()}`,
    node: process.version,
  };
}

export function loadAverage(): LoadAverage {
  const [one, five, fifteen] = loadavg();
  const r = (v: number) => Math.round(v * 100) / 100;
  return [r(one), r(five), r(fifteen)];
}

/** `20261128T224601Z-abc1234`: the name of a kept results file. */
export function runName(date: Date, commit: string | null, dirty: boolean | null): string {
  const stamp = date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${commit ? commit.slice(0, 7) : 'nogit'}${dirty ? '-dirty' : ''}`;
}
