#!/usr/bin/env node
'use strict';
/**
 * `npm run start:dev`: compiles as scripts/build.js does (TypeScript compiler API, @nestjs/swagger plugin) in
 * watch mode, and (re)starts the built service after every build without errors. A build with errors is
 * reported and the running service is left as it is. Not `nest start --watch`: the current Nest CLI needs Node 22.
 *
 * A restart stops the service with SIGTERM (its shutdown hooks run: the embedded PostgreSQL stops too) and waits
 * for it to exit before the next one starts. Ctrl-C (or SIGTERM) stops the service, then the watcher.
 */
const { spawn } = require('node:child_process');
const path = require('node:path');
const ts = require('typescript');
const { configPath, formatDiagnostics, root, transformersFor } = require('./compiler');

const entry = path.join(root, 'dist', 'src', 'main.js');
const STOP_TIMEOUT_MS = 20000;

let child = null;
let exited = null;
let restarting = false;
let restartAgain = false;
let closing = false;

function say(message) {
  process.stderr.write(`[start:dev] ${message}\n`);
}

function startService() {
  // The flags of `npm start` (read from the build, which holds their one definition).
  delete require.cache[path.join(root, 'dist', 'src', 'memory-policy.js')];
  const { SERVICE_NODE_FLAGS } = require(path.join(root, 'dist', 'src', 'memory-policy.js'));
  // Its own process group: a Ctrl-C reaches only the watcher, which stops the service once, in order.
  const started = spawn(process.execPath, [...SERVICE_NODE_FLAGS, entry], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child = started;
  exited = new Promise((resolve) => started.once('exit', resolve));
  started.once('exit', (code, signal) => {
    if (child === started && !closing) say(`service exited (${signal ?? code}); waiting for a change`);
    if (child === started) child = null;
  });
}

async function stopService() {
  const running = child;
  if (!running) return;
  child = null;
  running.kill('SIGTERM');
  let timer;
  const stopped = await Promise.race([
    exited.then(() => true),
    new Promise((resolve) => (timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!stopped) {
    say(`service did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it`);
    running.kill('SIGKILL');
    await exited;
  }
}

async function restart() {
  if (restarting) {
    restartAgain = true;
    return;
  }
  restarting = true;
  do {
    restartAgain = false;
    if (child) say('change built: restarting the service');
    await stopService();
    if (!closing) startService();
  } while (restartAgain && !closing);
  restarting = false;
}

const host = ts.createWatchCompilerHost(
  configPath,
  {},
  ts.sys,
  ts.createEmitAndSemanticDiagnosticsBuilderProgram,
  (diagnostic) => process.stderr.write(formatDiagnostics([diagnostic])),
  (diagnostic, _newLine, _options, errorCount) => {
    say(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    // The count comes with the message that ends a build ("Found N errors. Watching for file changes.").
    if (errorCount === 0) void restart();
    else if (errorCount !== undefined && child) say('the service keeps running the last good build');
  },
);
const afterProgramCreate = host.afterProgramCreate;
host.afterProgramCreate = (builder) => {
  const emit = builder.emit.bind(builder);
  // Every emit of this program, whole or only the changed files, goes through the Swagger plugin.
  builder.emit = (target, writeFile, cancel, onlyDts, custom) =>
    emit(target, writeFile, cancel, onlyDts, {
      ...custom,
      before: [...transformersFor(builder.getProgram()).before, ...(custom?.before ?? [])],
    });
  afterProgramCreate(builder);
};
const watch = ts.createWatchProgram(host);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    watch.close();
    void stopService().then(() => process.exit(0));
  });
}
