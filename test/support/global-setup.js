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

const root = join(__dirname, '..', '..');

module.exports = async function globalSetup() {
  // Suites that run the service as a child process (kill/restart) use the production build. Type errors are
  // reported here and by the type check, but the emitted build is still used: ts-jest has its own diagnostics.
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.js')], { stdio: 'inherit' });
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
  // The service's own helper (from the build just made): it finds a place the server's user can reach.
  const { EmbeddedPostgresServer } = require(join(root, 'dist', 'src', 'database', 'embedded-postgres.js'));
  const clusterDir = mkdtempSync(join(tmpdir(), 'opal-force-sync-test-pg-'));
  const pg = new EmbeddedPostgresServer({ clusterDir, password: 'postgres' });
  try {
    await pg.start();
    await pg.ensureDatabase('opal_force_sync_test');
  } catch (error) {
    await pg.stop();
    // One line that names the cause and the fix, not a stack through this file.
    const failure = new Error(`The e2e tests' embedded PostgreSQL could not start: ${error.message}`);
    failure.stack = failure.message;
    throw failure;
  }
  globalThis.__EMBEDDED_PG__ = { server: pg, clusterDir };
  process.env.TEST_DATABASE_URL = pg.url('opal_force_sync_test');
};
