'use strict';
/** ts-jest wrapper around the @nestjs/swagger compiler plugin, so tests see the same OpenAPI metadata as builds. */
const plugin = require('@nestjs/swagger/plugin');

module.exports = {
  name: 'nestjs-swagger-transformer',
  version: 1,
  // ts-jest emits ES modules (Nest 12 is ESM-only and Jest loads it natively only in ESM mode).
  factory: (tsCompiler, options) => plugin.before({ ...options, esmCompatible: true }, tsCompiler.program),
};
