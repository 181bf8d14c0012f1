'use strict';
/**
 * What scripts/build.js and scripts/watch.js share: the project's build tsconfig (from nest-cli.json) and the
 * @nestjs/swagger plugin it declares, applied as a TypeScript `before` transformer.
 */
const path = require('node:path');
const ts = require('typescript');
const swaggerPlugin = require('@nestjs/swagger/plugin');

const root = path.resolve(__dirname, '..');
const nestCli = require(path.join(root, 'nest-cli.json'));
const configPath = path.join(root, nestCli.compilerOptions.tsConfigPath);
const pluginOptions = nestCli.compilerOptions.plugins.find((p) => p.name === '@nestjs/swagger').options;

/** The transformers for one program (the plugin reads types through the program's checker). */
function transformersFor(program) {
  return { before: [swaggerPlugin.before(pluginOptions, program)] };
}

function formatDiagnostics(diagnostics) {
  return ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  });
}

module.exports = { root, configPath, transformersFor, formatDiagnostics };
