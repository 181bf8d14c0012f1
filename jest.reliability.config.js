'use strict';
/**
 * The reliability suite (`npm run test:reliability`): fault and load scenarios against the built service run as
 * child processes. Kept out of `npm test`: its files are `test/reliability/*.reliability.ts`.
 */
const base = require('./jest.config.js');

const e2e = base.projects.find((project) => project.displayName === 'e2e');
const { globalTeardown: _unused, ...shared } = e2e;

// Transpile only (no type check per file, which the type check step does): the scenarios start faster. The
// scenarios import no DTO, so the Swagger plugin (which needs a whole program) is left out.
const transform = Object.fromEntries(
  Object.entries(shared.transform).map(([pattern, entry]) =>
    Array.isArray(entry) && entry[0] === 'ts-jest'
      ? [
          pattern,
          [
            'ts-jest',
            { ...entry[1], tsconfig: 'test/reliability/tsconfig.json', astTransformers: undefined },
          ],
        ]
      : [pattern, entry],
  ),
);

/** @type {import('jest').Config} */
module.exports = {
  ...shared,
  transform,
  displayName: 'reliability',
  testMatch: ['<rootDir>/test/reliability/**/*.reliability.ts'],
  globalSetup: '<rootDir>/test/reliability/support/global-setup.js',
  // Under CI=true a skipped scenario fails the run; every run writes its results file.
  reporters: [
    'default',
    '<rootDir>/test/support/no-skipped-tests-reporter.js',
    '<rootDir>/test/reliability/support/results-reporter.js',
  ],
  // Each scenario bounds its own phases; this only stops a run that is stuck beyond any of them.
  testTimeout: 30 * 60 * 1000,
  maxWorkers: 1,
};
