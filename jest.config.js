'use strict';
const swaggerPluginOptions = require('./nest-cli.json').compilerOptions.plugins.find(
  (p) => p.name === '@nestjs/swagger',
).options;

const NEST_CJS_PACKAGES = '@nestjs/throttler|@nest-lab/throttler-storage-redis';

const transform = {
  [`node_modules/(${NEST_CJS_PACKAGES})/.+\\.js$`]: '<rootDir>/test/support/nest-cjs-transformer.js',
  '^.+\\.ts$': [
    'ts-jest',
    {
      tsconfig: 'tsconfig.json',
      useESM: true,
      // Node16/NodeNext module kind with ESM output: the hybrid-module notice does not apply to this setup.
      diagnostics: { ignoreCodes: [151002] },
      astTransformers: {
        before: [{ path: '<rootDir>/test/support/swagger-transformer.js', options: swaggerPluginOptions }],
      },
    },
  ],
};

// ES module imports spell the built file (`./live.js`, as in the client package); tests load the .ts beside it.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };

/** @type {import('jest').Config} */
module.exports = {
  // A global option (ignored inside a project): e2e suites boot apps and wait for real HTTP round trips.
  testTimeout: 60000,
  // Under CI=true a skipped test fails the run (see the reporter).
  reporters: ['default', '<rootDir>/test/support/no-skipped-tests-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: [
        '<rootDir>/src/**/*.spec.ts',
        '<rootDir>/scripts/**/*.spec.ts',
        '<rootDir>/bench/**/*.spec.ts',
      ],
      moduleFileExtensions: ['ts', 'js', 'json'],
      extensionsToTreatAsEsm: ['.ts'],
      modulePathIgnorePatterns: ['<rootDir>/dist/'],
      transform,
      transformIgnorePatterns: [`/node_modules/(?!(${NEST_CJS_PACKAGES})/)`],
      moduleNameMapper,
      setupFiles: ['<rootDir>/test/support/nest-esm-globals.ts'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      moduleFileExtensions: ['ts', 'js', 'json'],
      extensionsToTreatAsEsm: ['.ts'],
      modulePathIgnorePatterns: ['<rootDir>/dist/'],
      transform,
      transformIgnorePatterns: [`/node_modules/(?!(${NEST_CJS_PACKAGES})/)`],
      moduleNameMapper,
      setupFiles: ['<rootDir>/test/support/nest-esm-globals.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
      globalTeardown: '<rootDir>/test/support/global-teardown.js',
    },
  ],
};
