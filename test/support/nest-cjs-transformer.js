'use strict';
/**
 * Jest on Node < 24.9 cannot require() an ES module, and Nest 12 is ESM-only, so the two CommonJS packages that
 * require Nest (@nestjs/throttler, @nest-lab/throttler-storage-redis) get it from the ESM module registry:
 * `nest-esm-globals.ts` publishes the very namespaces the test imports. Outside Jest, Node loads them natively.
 */
const { createHash } = require('node:crypto');

const NEST_REQUIRE = /require\((["'])(@nestjs\/(?:common|core))\1\)/g;

module.exports = {
  process(source) {
    return { code: source.replace(NEST_REQUIRE, (_m, _q, id) => `globalThis[Symbol.for('jest-esm:${id}')]`) };
  },
  getCacheKey(source, path) {
    return createHash('sha256').update('nest-cjs-1').update(path).update(source).digest('hex');
  },
};
