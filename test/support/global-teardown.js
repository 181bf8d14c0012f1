'use strict';
const { rmSync } = require('node:fs');

module.exports = async function globalTeardown() {
  const embedded = globalThis.__EMBEDDED_PG__;
  if (!embedded) return;
  await embedded.server.destroy();
  rmSync(embedded.clusterDir, { recursive: true, force: true });
};
