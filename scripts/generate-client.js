#!/usr/bin/env node
'use strict';
/**
 * `npm run client:generate`: writes the typed client's schema (clients/typescript/src/schema.ts) from
 * openapi.json with openapi-typescript, and gives the client package the API's version (info.version). `--check`
 * writes to a temporary file instead and fails when the committed schema or version differs (CI), so a change
 * to the API cannot ship with a stale client.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const clientDir = path.join(root, 'clients', 'typescript');
const committed = path.join(clientDir, 'src', 'schema.ts');
const manifestFile = path.join(clientDir, 'package.json');
const check = process.argv.includes('--check');
const apiVersion = JSON.parse(readFileSync(path.join(root, 'openapi.json'), 'utf8')).info.version;
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));

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
  if (manifest.version !== apiVersion) {
    manifest.version = apiVersion;
    writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    process.stdout.write(`${path.relative(root, manifestFile)}: version ${apiVersion}\n`);
  }
} else {
  if (manifest.version !== apiVersion) {
    process.stderr.write(
      `clients/typescript/package.json has version ${manifest.version}, the API ${apiVersion}: run \`npm run client:generate\`\n`,
    );
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'opal-client-'));
  try {
    const fresh = path.join(dir, 'schema.ts');
    generate(fresh);
    if (readFileSync(fresh, 'utf8') !== readFileSync(committed, 'utf8')) {
      process.stderr.write(
        'clients/typescript/src/schema.ts is stale: run `npm run client:generate` and commit the result\n',
      );
      execFileSync('diff', ['-u', committed, fresh], { stdio: 'inherit' });
      process.exit(1);
    }
    process.stdout.write('clients/typescript/src/schema.ts is current\n');
  } catch (error) {
    if (error && error.status === 1) process.exit(1);
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
