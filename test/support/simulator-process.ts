import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait';

/**
 * The standalone OPAL simulator as `npm run opal:sim` runs it (`dist/src/modules/opal/simulator/main.js`, built by
 * the global setup), as a child process that tests stop and start again on the same port.
 */
export class SimulatorProcess {
  private child: ChildProcess | null = null;
  readonly output: string[] = [];

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get triggerUrl(): string {
    return `http://127.0.0.1:${this.port}/webhooks/strategy_workflow`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['dist/src/modules/opal/simulator/main.js'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-sim-')),
        OPAL_SIMULATOR_PORT: String(this.port),
        OPAL_SIMULATOR_AGENT_DELAY_MS: '0',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => this.output.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`simulator exited: ${this.output.slice(-3).join('\n')}`);
        try {
          return (await fetch(`http://127.0.0.1:${this.port}/__sim/state`)).ok;
        } catch {
          return false;
        }
      },
      'simulator listening',
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
