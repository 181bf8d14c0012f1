#!/usr/bin/env node
'use strict';
/**
 * Compiles the project with the TypeScript compiler API and the @nestjs/swagger plugin that
 * nest-cli.json declares. The Nest CLI is not used: its current major needs Node 22.
 */
const ts = require('typescript');
const { configPath, formatDiagnostics, transformersFor } = require('./compiler');

const report = (diags) => process.stderr.write(formatDiagnostics(Array.isArray(diags) ? diags : [diags]));

const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: report },
);
const host = ts.createIncrementalCompilerHost(parsed.options);
const program = ts.createIncrementalProgram({ rootNames: parsed.fileNames, options: parsed.options, host });
const result = program.emit(
  undefined,
  undefined,
  undefined,
  undefined,
  transformersFor(program.getProgram()),
);
const diagnostics = [...ts.getPreEmitDiagnostics(program.getProgram()), ...result.diagnostics];
if (diagnostics.length > 0) {
  report(diagnostics);
  process.exit(1);
}
