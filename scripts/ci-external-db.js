#!/usr/bin/env node
'use strict';
/**
 * For .ci/run: `check` exits 0 when a PostgreSQL answers on 127.0.0.1:5432 (user postgres, trust auth);
 * `create` makes a fresh database whose name says it is for tests and prints its URL; `drop URL` removes it.
 */
const { Client } = require('pg');

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin(fn) {
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function main() {
  const [command, arg] = process.argv.slice(2);
  if (command === 'check') {
    await withAdmin((c) => c.query('SELECT 1'));
    return;
  }
  if (command === 'create') {
    const name = `opal_ci_test_${Date.now()}`;
    await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
    process.stdout.write(`postgres://postgres@127.0.0.1:5432/${name}\n`);
    return;
  }
  if (command === 'drop') {
    const name = new URL(arg).pathname.slice(1);
    if (!/^opal_ci_test_\d+$/.test(name))
      throw new Error('refusing to drop a database this script did not create');
    await withAdmin(async (c) => {
      // The per-worker databases derived from it by the test support are dropped too.
      const rows = (await c.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${name}%`]))
        .rows;
      for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
    return;
  }
  throw new Error('usage: ci-external-db.js check|create|drop URL');
}

main().catch((error) => {
  if (process.argv[2] !== 'check') process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
