#!/usr/bin/env node
'use strict';
/**
 * Compiles the project with the TypeScript compiler API and the @nestjs/swagger plugin that
 * nest-cli.json declares. The Nest CLI is not used: its current major needs Node 22.
 */
const path = require('node:path');
const ts = require('typescript');
const swaggerPlugin = require('@nestjs/swagger/plugin');

const root = path.resolve(__dirname, '..');
const nestCli = require(path.join(root, 'nest-cli.json'));
const configPath = path.join(root, nestCli.compilerOptions.tsConfigPath);
const pluginOptions = nestCli.compilerOptions.plugins.find((p) => p.name === '@nestjs/swagger').options;

const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: report },
);
const host = ts.createIncrementalCompilerHost(parsed.options);
const program = ts.createIncrementalProgram({ rootNames: parsed.fileNames, options: parsed.options, host });
const result = program.emit(undefined, undefined, undefined, undefined, {
  before: [swaggerPlugin.before(pluginOptions, program.getProgram())],
});
const diagnostics = [...ts.getPreEmitDiagnostics(program.getProgram()), ...result.diagnostics];
if (diagnostics.length > 0) {
  report(diagnostics);
  process.exit(1);
}

function report(diags) {
  const list = Array.isArray(diags) ? diags : [diags];
  process.stderr.write(
    ts.formatDiagnosticsWithColorAndContext(list, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    }),
  );
}
