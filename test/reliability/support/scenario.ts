import type { Pool } from 'pg';
import { cleanupAll, freePort, ServiceChild } from './harness';
import { destroyAgents } from './http';
import { ScenarioPostgres } from './postgres';

export interface SingleServiceScenario {
  readonly postgres: ScenarioPostgres;
  readonly pool: Pool;
  readonly service: ServiceChild;
}

/**
 * Registers the set-up every one-service scenario shares: its own PostgreSQL, the built service started and
 * ready, a pool for checks; and the tear-down that stops all of it even when the scenario failed.
 */
export function singleServiceScenario(name: string, env?: Record<string, string>): SingleServiceScenario {
  const postgres = new ScenarioPostgres();
  let pool: Pool | undefined;
  let service: ServiceChild | undefined;

  beforeAll(async () => {
    await postgres.init();
    service = new ServiceChild(name, await freePort(), { databaseUrl: postgres.url, env });
    await service.startReady();
    pool = postgres.pool();
  });

  afterAll(async () => {
    destroyAgents();
    await service?.kill();
    await pool?.end();
    await postgres.stop();
    cleanupAll();
  });

  return {
    postgres,
    get pool() {
      return pool!;
    },
    get service() {
      return service!;
    },
  };
}
