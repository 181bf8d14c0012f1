import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Env } from '../../../src/config/settings';
import { SERVICE_NODE_FLAGS } from '../../../src/memory-policy';
import { waitFor } from '../../support/wait';

/** `full` is the published run; `quick` is the CI variant (same checks, smaller and shorter). */
export type Profile = 'full' | 'quick';

export const PROFILE: Profile = process.env.RELIABILITY_PROFILE === 'full' ? 'full' : 'quick';

export function pick<T>(values: { full: T; quick: T }): T {
  return values[PROFILE];
}

/** A number from the environment (to shorten a run by hand or in CI), else the profile's value. */
export function tunable(name: string, values: { full: number; quick: number }): number {
  const raw = process.env[name];
  if (raw !== undefined && /^\d+$/.test(raw)) return Number(raw);
  return pick(values);
}

/** Test-only values; never real credentials. */
export const WEBHOOK_SECRET = `whsec-reliability-${'s'.repeat(24)}`;
export const OPAL_KEY = `opal-reliability-${'k'.repeat(30)}`;
export const OPERATOR_KEY = `operator-reliability-${'o'.repeat(30)}`;

export function operatorHeaders(): Record<string, string> {
  return { Authorization: `Bearer ${OPERATOR_KEY}` };
}

const tempDirs = new Set<string>();
const children = new Set<ChildProcess>();

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `opal-reliability-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Kills every child still running and removes the temp folders; safe to call more than once. */
export function cleanupAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.once('exit', cleanupAll);

export { freePort, freePorts as distinctFreePorts } from '../../../src/common/free-port';

/** The last lines of a child's output, kept bounded for long runs. */
class OutputTail {
  private readonly lines: string[] = [];
  /** The first error lines, kept whatever the volume of other output. */
  readonly errorLines: string[] = [];
  constructor(private readonly max = 400) {}
  push(chunk: Buffer): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.length === 0) continue;
      const kept = line.length > 2000 ? `${line.slice(0, 2000)}…` : line;
      this.lines.push(kept);
      if (this.lines.length > this.max) this.lines.shift();
      if (/"level":"(error|fatal)"/.test(line) && this.errorLines.length < 50) this.errorLines.push(kept);
    }
  }
  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }
}

/** A Node program from dist/ run as a child process that the scenario can kill, stop and start again. */
export class NodeChild {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly output = new OutputTail();
  starts = 0;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Env,
    private readonly nodeFlags: readonly string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  spawn(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const child = spawn(process.execPath, [...this.nodeFlags, this.script], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    this.child = child;
    this.starts += 1;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        children.delete(child);
        resolve();
      }),
    );
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk));
  }

  /** Starts and waits until `ready()` says so (or the child exits, which fails with its last lines). */
  async start(ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
    const began = Date.now();
    this.spawn();
    const child = this.child!;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${this.name} exited while starting:\n${this.output.tail()}`);
        }
        return ready().catch(() => false);
      },
      `${this.name} ready`,
      { timeoutMs, intervalMs: 50 },
    );
    return Date.now() - began;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    await this.exited;
    this.child = null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    const child = this.child!;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }
}

async function answers(url: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === status;
}

export interface ServiceOptions {
  databaseUrl: string;
  /** Where the service sends triggers; unset = its built-in simulator. */
  opalWebhookUrl?: string;
  env?: Env;
}

/** The built service (`dist/src/main.js`). */
export class ServiceChild extends NodeChild {
  constructor(
    name: string,
    readonly port: number,
    options: ServiceOptions,
  ) {
    super(
      name,
      'dist/src/main.js',
      {
        NODE_ENV: 'test',
        PORT: String(port),
        BASE_URL: `http://127.0.0.1:${port}`,
        DATABASE_URL: options.databaseUrl,
        DATA_DIR: tempDir(`svc-${name}`),
        OSA_WEBHOOK_SHARED_SECRET: WEBHOOK_SECRET,
        OPAL_STRATEGY_WORKFLOW_AUTH_KEY: OPAL_KEY,
        OPERATOR_API_KEYS: OPERATOR_KEY,
        OPAL_WEBHOOK_URL: options.opalWebhookUrl,
        OPAL_SIMULATOR_AGENT_DELAY_MS: '0',
        RATE_LIMIT_WEBHOOK_PER_MIN: '0',
        RATE_LIMIT_SYNC_PER_MIN: '0',
        RATE_LIMIT_ADMIN_PER_MIN: '0',
        RATE_LIMIT_READ_PER_MIN: '0',
        SHUTDOWN_GRACE_MS: '2000',
        ...options.env,
      },
      SERVICE_NODE_FLAGS,
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts and waits for readiness; resolves with the time it took (ms). */
  startReady(timeoutMs = 60_000): Promise<number> {
    return this.start(() => answers(`${this.url}/api/health/ready`), timeoutMs);
  }
}

/** The standalone OPAL simulator (`dist/src/modules/opal/simulator/main.js`). */
export class SimulatorChild extends NodeChild {
  constructor(
    readonly port: number,
    callbackUrl: string,
    env: Env = {},
  ) {
    super('opal-simulator', 'dist/src/modules/opal/simulator/main.js', {
      NODE_ENV: 'test',
      DATA_DIR: tempDir('sim'),
      OPAL_SIMULATOR_PORT: String(port),
      OPAL_SIMULATOR_CALLBACK_URL: callbackUrl,
      OPAL_SIMULATOR_AGENT_DELAY_MS: '0',
      OSA_WEBHOOK_SHARED_SECRET: WEBHOOK_SECRET,
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: OPAL_KEY,
      ...env,
    });
  }

  get triggerUrl(): string {
    return `http://127.0.0.1:${this.port}/webhooks/strategy_workflow`;
  }

  startReady(): Promise<number> {
    return this.start(() => answers(`http://127.0.0.1:${this.port}/__sim/state`));
  }

  async state(): Promise<{ accepted: Record<string, number>; triggers: { status: number }[] }> {
    const res = await fetch(`http://127.0.0.1:${this.port}/__sim/state`);
    return (await res.json()) as { accepted: Record<string, number>; triggers: { status: number }[] };
  }
}

/**
 * One line per figure in the log, and the scenario's record for the results file (results-reporter.js): its
 * title, a one-sentence summary built from the figures (the README's Reliability table shows it), the figures.
 */
export function report(
  scenario: string,
  figures: Record<string, unknown>,
  summary: string = summarizeFigures(figures),
): void {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const lines = Object.entries(figures).map(
    ([key, value]) => `  ${key.padEnd(width)}  ${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  process.stdout.write(`\n[reliability:${PROFILE}] ${scenario}\n${lines.join('\n')}\n  => ${summary}\n`);
  const dir = process.env.RELIABILITY_FIGURES_DIR;
  const testPath = expect.getState().testPath;
  if (dir && testPath) {
    writeFileSync(
      join(dir, `${basename(testPath)}.json`),
      `${JSON.stringify({ title: scenario, summary, figures }, null, 2)}\n`,
    );
  }
}

/** For a scenario that gives no summary of its own: its figures, compactly. */
function summarizeFigures(figures: Record<string, unknown>): string {
  return Object.entries(figures)
    .map(
      ([key, value]) =>
        `${key.replace(/_/g, ' ')} ${typeof value === 'string' ? value : JSON.stringify(value)}`,
    )
    .join('; ');
}

/** {"200": 108, "503": 2} → "108 × 200, 2 × 503", for summaries. */
export function counted(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${n(count)} × ${key}`).join(', ');
}

/** 12345 → "12,345", for summaries. */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
