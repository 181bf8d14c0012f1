'use strict';
/**
 * Preloaded with `node --require` by tests that must prove a package is never loaded: appends every module
 * specifier matching RECORD_IMPORTS_PATTERN to the file RECORD_IMPORTS_FILE, whether it is required (CommonJS)
 * or imported (ES modules, static or dynamic, through a resolve hook).
 */
const Module = require('node:module');
const { appendFileSync } = require('node:fs');

const file = process.env.RECORD_IMPORTS_FILE;
const pattern = process.env.RECORD_IMPORTS_PATTERN;
if (file && pattern) {
  const matches = new RegExp(pattern);
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function recordRequire(request, ...rest) {
    if (matches.test(request)) appendFileSync(file, `require ${request}\n`);
    return resolveFilename.call(this, request, ...rest);
  };
  const hook = `
    import { appendFileSync } from 'node:fs';
    const matches = new RegExp(${JSON.stringify(pattern)});
    export async function resolve(specifier, context, next) {
      if (matches.test(specifier)) appendFileSync(${JSON.stringify(file)}, 'import ' + specifier + '\\n');
      return next(specifier, context);
    }`;
  // base64: the hook's own URL must not match the pattern it records.
  Module.register(`data:text/javascript;base64,${Buffer.from(hook).toString('base64')}`);
}
