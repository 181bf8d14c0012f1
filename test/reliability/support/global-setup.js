'use strict';
/**
 * The scenarios run the production build as child processes: build it once before they start. Each scenario
 * leaves its figures in a folder the results reporter reads at the end (results-reporter.js).
 */
const { spawnSync } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const build = spawnSync(process.execPath, [join(__dirname, '..', '..', '..', 'scripts', 'build.js')], {
    stdio: 'inherit',
  });
  // Type errors are reported (here and by the type check) but the emitted build is still used, as in the e2e setup.
  if (build.status !== 0) process.stderr.write('warning: the build reported errors (see above)\n');
  process.env.RELIABILITY_FIGURES_DIR = mkdtempSync(join(tmpdir(), 'opal-reliability-figures-'));
};
