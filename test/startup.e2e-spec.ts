import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './support/app';
import { ServiceProcess } from './support/service-process';

/**
 * A fresh data folder that other users can enter, like a normal project folder: as root the cluster then stays in
 * it, where these tests look (a private folder moves it elsewhere: see first-run.e2e-spec.ts).
 */
function dataFolder(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `opal-force-sync-${name}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** A clean stop (SIGTERM: requests answered, jobs stopped, pool and embedded PostgreSQL closed) exits with 0. */
function expectCleanExit(code: number | null): void {
  expect(code).toBe(0);
}

/** PostgreSQL processes whose command line names this data folder (the embedded server of one test). */
function postgresProcessesFor(dataDir: string): string[] {
  const out = spawnSync('pgrep', ['-af', 'postgres'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((line) => line.includes(dataDir));
}

describe('starting the built service as a new user would (e2e)', () => {
  it('starts with no environment at all, reuses its data on a second start, and stops cleanly on SIGTERM', async () => {
    const dataDir = dataFolder('start');
    const port = await freePort();
    // Only what any shell has: no configuration variable is set (DATA_DIR keeps the test's data apart).
    const env = { PORT: String(port), DATA_DIR: dataDir };

    const first = new ServiceProcess(env);
    await first.start();
    const health = (await (await fetch(`${first.url}/api/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    expect((await fetch(`${first.url}/docs`)).status).toBe(200);
    const secrets = readFileSync(join(dataDir, 'dev-secrets.json'), 'utf8');
    const clusterCreated = statSync(join(dataDir, 'postgres', 'PG_VERSION')).mtimeMs;
    expect(postgresProcessesFor(dataDir).length).toBeGreaterThan(0);
    expectCleanExit(await first.stop('SIGTERM'));
    expect(postgresProcessesFor(dataDir)).toEqual([]);
    // Generated secrets are never logged.
    const devSecrets = JSON.parse(secrets) as Record<string, string>;
    for (const value of Object.values(devSecrets)) expect(first.output.join('\n')).not.toContain(value);

    const second = new ServiceProcess(env);
    await second.start();
    expect(readFileSync(join(dataDir, 'dev-secrets.json'), 'utf8')).toBe(secrets);
    expect(statSync(join(dataDir, 'postgres', 'PG_VERSION')).mtimeMs).toBe(clusterCreated);
    expect((await fetch(`${second.url}/api/health/ready`)).status).toBe(200);
    expectCleanExit(await second.stop('SIGTERM'));
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  }, 120000);

  it('takes over its embedded PostgreSQL after being killed with SIGKILL', async () => {
    const dataDir = dataFolder('kill');
    const env = { PORT: String(await freePort()), DATA_DIR: dataDir };
    const crashed = new ServiceProcess(env);
    await crashed.start();
    await crashed.stop('SIGKILL');
    const restarted = new ServiceProcess(env);
    await restarted.start();
    expect((await fetch(`${restarted.url}/api/health`)).status).toBe(200);
    expectCleanExit(await restarted.stop('SIGTERM'));
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  }, 120000);

  it('refuses to start in production with placeholder secrets and http URLs, naming every bad variable', () => {
    const secrets = {
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: 'your-32-character-production-auth-key',
      OSA_WEBHOOK_SHARED_SECRET: 'dev-webhook-secret-32-characters-min',
      OPERATOR_API_KEYS: 'changeme',
    };
    const result = spawnSync(process.execPath, ['dist/src/main.js'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        BASE_URL: 'http://your-app.example.com',
        OPAL_WEBHOOK_URL: 'http://webhook.example.com/webhooks/a/b',
        ...secrets,
      },
      encoding: 'utf8',
      timeout: 30000,
    });
    expect(result.status).not.toBe(0);
    const output = `${result.stdout}${result.stderr}`;
    for (const name of [
      'BASE_URL',
      'OPAL_WEBHOOK_URL',
      'DATABASE_URL',
      'OPAL_STRATEGY_WORKFLOW_AUTH_KEY',
      'OSA_WEBHOOK_SHARED_SECRET',
      'OPERATOR_API_KEYS',
    ]) {
      expect(output).toContain(name);
    }
    for (const value of Object.values(secrets)) expect(output).not.toContain(value);
  });

  it('runs the migration command against the embedded database', () => {
    const dataDir = dataFolder('migrate');
    const out = execFileSync(process.execPath, ['dist/src/database/migrate.js'], {
      env: { PATH: process.env.PATH, DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(out).toContain('InitialSchema');
    expect(postgresProcessesFor(dataDir)).toEqual([]);
  });
});
