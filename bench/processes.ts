import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Every child the benchmark started, so that any exit path (error, signal, watchdog) can stop them all. */
const running = new Set<BenchProcess>();

export { freePort } from '../src/common/free-port';

/** A child `node` process whose output goes to a log file (read back when it fails). */
export class BenchProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
    readonly logFile: string,
    nodeArgs: string[] = [],
  ) {
    const fd = openSync(logFile, 'a');
    this.child = spawn(process.execPath, [...nodeArgs, script], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Polls `url` until it answers 200; fails early when the process exits. */
  async waitReady(url: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`${this.name} exited before it was ready:\n${this.tail()}`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.tail()}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timedOut = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut && this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Resolves with the exit code. */
  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(5_000)));
}

/** Synchronous last resort (process 'exit' handler): no waiting is possible there. */
export function killAllNow(): void {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Samples a process's resident memory; VmHWM is the kernel's own peak, so short spikes are not missed. */
export class MemorySampler {
  private timer: NodeJS.Timeout | null = null;
  private peakRssKb = 0;
  private peakHwmKb = 0;
  private phasePeakKb = 0;
  private readonly phases: Record<string, number> = {};

  constructor(private readonly pid: number) {}

  start(intervalMs = 250): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Closes a phase: its own sampled RSS peak is reported by `stop()`. */
  endPhase(name: string): void {
    this.sample();
    this.phases[name] = toMb(this.phasePeakKb);
    this.phasePeakKb = 0;
  }

  stop(): { peak_rss_mb: number; vm_hwm_mb: number; by_phase_mb: Record<string, number> } {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return { peak_rss_mb: toMb(this.peakRssKb), vm_hwm_mb: toMb(this.peakHwmKb), by_phase_mb: this.phases };
  }

  private sample(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const rss = /VmRSS:\s+(\d+)/.exec(status);
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (rss) {
        this.peakRssKb = Math.max(this.peakRssKb, Number(rss[1]));
        this.phasePeakKb = Math.max(this.phasePeakKb, Number(rss[1]));
      }
      if (hwm) this.peakHwmKb = Math.max(this.peakHwmKb, Number(hwm[1]));
    } catch {
      // the process has exited
    }
  }
}

function toMb(kb: number): number {
  return Math.round(kb / 102.4) / 10;
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

/** Processes whose command line contains `needle` (PostgreSQL backends show their database name there). */
function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU time (user + system) spent by one process and by the PostgreSQL backends serving one database between
 * `start()` and `stop()`: the cost per event, which contention on a shared machine distorts far less than
 * throughput does. Linux only; backends that exit in between are not counted.
 */
export class CpuMeter {
  private serverStart = 0;
  private readonly backendsStart = new Map<number, number>();

  constructor(
    private readonly serverPid: number,
    private readonly databaseName: string,
  ) {}

  start(): void {
    this.serverStart = processCpuMs(this.serverPid) ?? 0;
    for (const pid of processesMatching(this.databaseName)) {
      this.backendsStart.set(pid, processCpuMs(pid) ?? 0);
    }
  }

  stop(): { server_ms: number; postgres_ms: number } {
    const server = (processCpuMs(this.serverPid) ?? this.serverStart) - this.serverStart;
    let postgres = 0;
    for (const pid of processesMatching(this.databaseName)) {
      const now = processCpuMs(pid);
      if (now !== null) postgres += now - (this.backendsStart.get(pid) ?? 0);
    }
    return { server_ms: Math.round(server), postgres_ms: Math.round(postgres) };
  }
}
