#!/usr/bin/env node
'use strict';
/**
 * `npm run client:generate`: writes the typed client's schema (clients/typescript/schema.d.ts) from
 * openapi.json with openapi-typescript. `--check` writes to a temporary file instead and fails when the
 * committed schema differs (CI), so a change to the API cannot ship with a stale client.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const committed = path.join(root, 'clients', 'typescript', 'schema.d.ts');
const check = process.argv.includes('--check');

function generate(target) {
  const bin = path.join(root, 'node_modules', '.bin', 'openapi-typescript');
  try {
    // Its own lint warnings are `npm run openapi:lint`'s business; show its output only when it fails.
    execFileSync(bin, [path.join(root, 'openapi.json'), '--output', target], { stdio: 'pipe' });
  } catch (error) {
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
    throw error;
  }
}

if (!check) {
  generate(committed);
  process.stdout.write(`wrote ${path.relative(root, committed)}\n`);
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'opal-client-'));
  try {
    const fresh = path.join(dir, 'schema.d.ts');
    generate(fresh);
    if (readFileSync(fresh, 'utf8') !== readFileSync(committed, 'utf8')) {
      process.stderr.write(
        'clients/typescript/schema.d.ts is stale: run `npm run client:generate` and commit the result\n',
      );
      execFileSync('diff', ['-u', committed, fresh], { stdio: 'inherit' });
      process.exit(1);
    }
    process.stdout.write('clients/typescript/schema.d.ts is current\n');
  } catch (error) {
    if (error && error.status === 1) process.exit(1);
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
