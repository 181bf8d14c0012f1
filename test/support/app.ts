import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { appOptions, configureApp, createHttpAdapter } from '../../src/app.setup';
import { loadSettings, type Env, type Settings } from '../../src/config/settings';
import { freePort } from '../../src/common/free-port';
import { testDatabaseUrl } from './database';

/** Test-only values, generated per run; never real credentials. */
export const TEST_WEBHOOK_SECRET = `whsec-e2e-${'s'.repeat(24)}-${process.pid}`;
export const TEST_OPAL_KEY = `opal-e2e-${'k'.repeat(30)}-${process.pid}`;
export const TEST_OPERATOR_KEY = `operator-e2e-${'o'.repeat(30)}-${process.pid}`;

export interface TestApp {
  app: INestApplication;
  url: string;
  port: number;
  settings: Settings;
  dataSource: DataSource;
  logs: string[];
  close(): Promise<void>;
}

export { freePort } from '../../src/common/free-port';

/** The environment every e2e app starts from; tests override what they exercise. */
export async function baseTestEnv(port: number): Promise<Env> {
  return {
    NODE_ENV: 'test',
    PORT: String(port),
    BASE_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: await testDatabaseUrl(),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-force-sync-e2e-')),
    OSA_WEBHOOK_SHARED_SECRET: TEST_WEBHOOK_SECRET,
    OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
    OPERATOR_API_KEYS: TEST_OPERATOR_KEY,
    OPAL_SIMULATOR_AGENT_DELAY_MS: '0',
    RATE_LIMIT_WEBHOOK_PER_MIN: '0',
    RATE_LIMIT_SYNC_PER_MIN: '0',
    RATE_LIMIT_ADMIN_PER_MIN: '0',
    RATE_LIMIT_READ_PER_MIN: '0',
  };
}

/**
 * Boots the real app (same configureApp as main.ts) on a real port against real PostgreSQL. `beforeListen` may
 * adjust the configured app before it listens (e.g. shorter server timeouts, which Node reads when listening).
 */
export async function createTestApp(
  overrides: Env = {},
  customize: (builder: TestingModuleBuilder) => TestingModuleBuilder = (builder) => builder,
  beforeListen: (app: INestApplication) => void = () => undefined,
): Promise<TestApp> {
  const port = await freePort();
  const env = { ...(await baseTestEnv(port)), ...overrides };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const settings = loadSettings(env);
  const logs: string[] = [];
  const moduleRef = await customize(
    Test.createTestingModule({ imports: [AppModule.register(settings)] }),
  ).compile();
  const app = moduleRef.createNestApplication(
    createHttpAdapter(),
    appOptions(settings.debug, (line) => logs.push(line)),
  );
  await configureApp(app);
  beforeListen(app);
  await app.listen(port, '127.0.0.1');
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    settings,
    dataSource: app.get(DataSource),
    logs,
    close: () => app.close(),
  };
}

/** Empties every table (not the migrations record) so that each suite starts from a known state. */
export async function resetDatabase(dataSource: DataSource): Promise<void> {
  // The app's background loops may hold row locks; TRUNCATE can then deadlock with them, so retry.
  for (let attempt = 1; ; attempt++) {
    try {
      await dataSource.query(
        `TRUNCATE workflows, agent_runs, trigger_attempts, webhook_events, rejected_deliveries, idempotency_keys,
                  audit_log, auth_failures, job_leases, maintenance_mode, replay_jobs, replay_job_workflows
                  RESTART IDENTITY CASCADE`,
      );
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= 10) throw error;
    }
  }
}

export function operatorHeaders(): Record<string, string> {
  return { Authorization: `Bearer ${TEST_OPERATOR_KEY}` };
}
