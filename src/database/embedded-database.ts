import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StartupError } from '../common/startup-error';
import { EmbeddedPostgresServer } from './embedded-postgres';
import { stopOrphan } from './postgres-processes';
import { oneLine } from './postgres-runtime';

export interface EmbeddedDatabaseOptions {
  dataDir: string;
  databaseName: string;
  log?: (message: string) => void;
  /**
   * When another live process (a running service) already serves this DATA_DIR's cluster: use it and leave it
   * running (the migration commands), instead of refusing (the service: two would fight over it).
   */
  shareRunning?: boolean;
}

interface Credentials {
  user: string;
  password: string;
  /** Where the cluster is, when it had to be relocated (root, unreachable DATA_DIR). */
  location?: string;
}

/**
 * The service's development database: a cluster for `<dataDir>/postgres` (kept between runs) on a free loopback
 * port, its password in `<dataDir>/postgres-credentials.json`. Used outside production when DATABASE_URL is unset.
 */
export class EmbeddedDatabase {
  private server: EmbeddedPostgresServer | null = null;
  private url: string | null = null;
  private where: string | null = null;

  constructor(private readonly options: EmbeddedDatabaseOptions) {}

  get connectionUrl(): string | null {
    return this.url;
  }

  /** Where the cluster is (after `start()`), whether this object started it or shares it. */
  get clusterDir(): string | null {
    return this.where;
  }

  async start(): Promise<string> {
    if (this.url) return this.url;
    const { dataDir, databaseName, log } = this.options;
    const credentialsFile = join(dataDir, 'postgres-credentials.json');
    mkdirSync(dataDir, { recursive: true });
    const saved = readCredentials(credentialsFile);
    // A relocated cluster is found again through the credentials; a stale location (its folder removed) is not.
    const wanted =
      saved?.location && existsSync(join(saved.location, 'PG_VERSION'))
        ? saved.location
        : join(dataDir, 'postgres');
    const password = saved?.password ?? randomBytes(18).toString('hex');
    const server = new EmbeddedPostgresServer({ clusterDir: wanted, password, log });
    await server.prepare();
    this.where = server.clusterDir;

    const state = await stopOrphan(server.clusterDir);
    if (state.kind === 'running') {
      if (!this.options.shareRunning || !saved) {
        throw new StartupError(
          `The embedded PostgreSQL of ${dataDir} is in use by process ${state.ownerPid} (a service already running?)`,
          'stop that process, set another DATA_DIR, or set DATABASE_URL to a PostgreSQL server',
        );
      }
      this.url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${state.port}/${databaseName}`;
      return this.url;
    }

    if (!saved && server.hasCluster()) {
      if (!server.relocated) {
        throw new StartupError(
          `${credentialsFile} is missing, so the password of the PostgreSQL cluster in ${server.clusterDir} is unknown`,
          `restore that file, or remove ${server.clusterDir} to start with an empty database`,
        );
      }
      // DATA_DIR was removed (its credentials with it): its relocated cluster goes too, as an in-place one would.
      await server.removeCluster();
      log?.(`Removed the embedded PostgreSQL cluster in ${server.clusterDir}: DATA_DIR was reset`);
    }

    if (!server.hasCluster()) {
      const credentials: Credentials = { user: 'postgres', password };
      if (server.relocated) credentials.location = server.clusterDir;
      writeFileSync(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
    }
    await server.start();
    this.server = server;
    try {
      await server.ensureDatabase(databaseName);
    } catch (error) {
      await this.stop();
      throw new StartupError(
        `Embedded PostgreSQL started but refused the saved credentials or the database (${oneLine(error)})`,
        `remove ${server.clusterDir} and ${credentialsFile} to start with an empty database`,
      );
    }
    this.url = server.url(databaseName);
    return this.url;
  }

  /** Stops the server if this object started it (a shared one is left running). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.url = null;
    if (server) await server.stop();
  }
}

function readCredentials(file: string): Credentials | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
    if (typeof parsed.password === 'string' && parsed.password.length > 0) return parsed as Credentials;
  } catch {
    // Reported below.
  }
  throw new StartupError(
    `${file} cannot be read as the embedded PostgreSQL's credentials`,
    `restore that file, or remove ${dirname(file)} (DATA_DIR) to start with an empty database`,
  );
}
