'use strict';
/**
 * Under CI (`CI=true`) a skipped test fails the run, whatever the reason it skipped (a missing tool, a `.skip`
 * left behind, a `todo`): a green CI run then means every test ran. Outside CI, tests that need a tool the machine
 * lacks still skip, each saying why.
 */
const { relative } = require('node:path');

const NOT_RUN = new Set(['pending', 'skipped', 'todo', 'disabled']);

class NoSkippedTestsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.enabled = process.env.CI === 'true';
    this.error = undefined;
  }

  onRunComplete(_contexts, results) {
    if (!this.enabled) return;
    const notRun = [];
    for (const file of results.testResults) {
      const where = relative(this.rootDir, file.testFilePath);
      for (const test of file.testResults) {
        if (NOT_RUN.has(test.status)) notRun.push(`${where} › ${test.fullName} (${test.status})`);
      }
    }
    if (notRun.length === 0) return;
    const shown = notRun.slice(0, 50).map((t) => `  - ${t}`);
    if (notRun.length > shown.length) shown.push(`  … and ${notRun.length - shown.length} more`);
    const message = `CI=true and ${notRun.length} test(s) did not run:\n${shown.join('\n')}`;
    process.stderr.write(`\n${message}\n`);
    this.error = new Error(message);
  }

  getLastError() {
    return this.error;
  }
}

module.exports = NoSkippedTestsReporter;
