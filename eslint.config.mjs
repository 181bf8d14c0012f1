// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/**
 * The layers of src/, lowest first: each may import only the folders listed after it (and itself).
 * modules/ may import each other, but only through the entry points checked below.
 */
const LAYERS = [
  ['domain', [], 'domain/ is the vocabulary: it imports nothing'],
  ['config', ['domain'], 'config/ imports only domain/'],
  ['common', ['config', 'domain'], 'common/ imports no feature, no metrics/ and no audit/'],
  ['database', ['common', 'config', 'domain'], 'database/ never imports modules/'],
  ['metrics', ['common', 'config', 'domain'], 'metrics/ (the registry) imports no feature'],
  ['audit', ['database', 'common', 'config', 'domain'], 'audit/ imports no feature'],
  ['policy', ['audit', 'metrics', 'common', 'config', 'domain'], 'policy/ imports no feature'],
  [
    'modules',
    ['policy', 'audit', 'metrics', 'database', 'common', 'config', 'domain'],
    'modules/ never import the app, the scheduler (jobs/), health/ or admin/',
  ],
];

/** Feature modules, entered only through their module, their exported services and their DTOs. */
const MODULES = ['workflows', 'webhooks', 'sync', 'opal', 'diagnostics', 'replay', 'live'];
const ENTRY_POINTS = ['*.module.ts', '*.service.ts', 'dto/**'];

const zones = [
  ...LAYERS.map(([layer, allowed, message]) => ({
    target: `./src/${layer}`,
    from: './src',
    except: [layer, ...allowed].map((folder) => `./${folder}`),
    message: `${message}.`,
  })),
  ...MODULES.map((name) => ({
    target: ['./src/*.ts', './src/!(modules)/**', `./src/modules/!(${name})/**`],
    from: `./src/modules/${name}/**`,
    except: ENTRY_POINTS.map((entry) => `${root}/src/modules/${name}/${entry}`),
    message: `Enter modules/${name} through its *.module.ts, its exported services (*.service.ts) or its dto/, not its internals.`,
  })),
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'clients/**',
      // Projects of their own (e.g. a consumer of the client package), compiled by the tests that use them.
      'test/fixtures/**',
      '.data/**',
      'migrations/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The boundaries of STYLE.md ("Shape", "One table, one owner"): a wrong import fails the lint. Specs, like
    // the e2e tests, may reach into what they test.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.spec.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
