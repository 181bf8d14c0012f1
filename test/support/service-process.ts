import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { SERVICE_NODE_FLAGS } from '../../src/memory-policy';
import type { Env } from '../../src/config/settings';
import { waitFor } from './wait';

/**
 * The built service (`dist/src/main.js`, built by the global setup) as a real child process, for tests that
 * kill it (SIGKILL) or stop it (SIGTERM) and start it again.
 */
export class ServiceProcess {
  private child: ChildProcess | null = null;
  readonly output: string[] = [];
  private exit: Promise<number | null> | null = null;

  constructor(
    private readonly env: Env,
    /** The folder it starts in (the project root unless a test copied the project elsewhere). */
    private readonly cwd: string = process.cwd(),
    /** Node options added to the service's own (e.g. `--require` of a recorder). */
    private readonly nodeArgs: string[] = [],
  ) {}

  /** The running process's id (null when not running). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.env.PORT}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...this.nodeArgs, 'dist/src/main.js'], {
      cwd: this.cwd,
      env: { PATH: process.env.PATH, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    // Like a shell's `$?`: a process ended by a signal reports 128 + its number (SIGKILL: 137). A stop on
    // SIGTERM is the service's own graceful shutdown, which exits with 0.
    this.exit = new Promise((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + constants.signals[signal] : null))),
    );
    child.stdout.on('data', (chunk: Buffer) =>
      this.output.push(...chunk.toString().split('\n').filter(Boolean)),
    );
    child.stderr.on('data', (chunk: Buffer) =>
      this.output.push(...chunk.toString().split('\n').filter(Boolean)),
    );
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`service exited early: ${this.output.slice(-5).join('\n')}`);
        try {
          const res = await fetch(`${this.url}/api/health/ready`);
          return res.status === 200;
        } catch {
          return false;
        }
      },
      'service ready',
      { timeoutMs: 60000, intervalMs: 100 },
    );
  }

  /** Sends a signal and resolves with the exit code once the process has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) {
      const exit = this.exit;
      this.child = null;
      return exit ? await exit : null;
    }
    this.child.kill(signal);
    const code = await this.exit;
    this.child = null;
    return code;
  }
}
