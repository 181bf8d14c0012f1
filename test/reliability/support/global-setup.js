'use strict';
/** The scenarios run the production build as child processes: build it once before they start. */
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const build = spawnSync(process.execPath, [join(__dirname, '..', '..', '..', 'scripts', 'build.js')], {
    stdio: 'inherit',
  });
  // Type errors are reported (here and by the type check) but the emitted build is still used, as in the e2e setup.
  if (build.status !== 0) process.stderr.write('warning: the build reported errors (see above)\n');
};
