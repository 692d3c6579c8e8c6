// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importFloors } from './eslint-rules/import-floors.mjs';

/**
 * The floors of lib/, lowest first: a folder (or top-level file) imports only from floors below
 * its own, never from its own floor or above (rule `tfstep/import-floors`). Read off the imports
 * as they stand; a new folder under lib/ must be given a floor here, or its imports are refused.
 */
export const LIB_FLOORS = [
  ['config'],
  ['domain', 'env', 'log', 'git-auth'],
  ['planning', 'statemachine', 'runner', 'webhook', 'fleet', 'audit', 'notify'],
  ['store', 'approval', 'constructs', 'pull-requests'],
  ['pipeline', 'stacks'],
  ['app', 'local', 'replay'],
  ['operator'],
  ['dashboard'],
  ['cli'],
];

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.tfstep/', 'dist/', 'coverage/', 'bench/results.json', '**/*.cjs', '**/*.mjs', 'examples/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The CLI, the local mode and the benchmark talk to a terminal on purpose.
    files: ['lib/cli/**', 'lib/local/**', 'bin/**', 'bench/**', 'test/**', 'runner/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['lib/**/*.ts'],
    plugins: { tfstep: { rules: { 'import-floors': importFloors } } },
    rules: { 'tfstep/import-floors': ['error', { floors: LIB_FLOORS }] },
  },
  {
    // lib/domain holds pure contracts: no AWS SDK client and no CDK construct.
    files: ['lib/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aws-sdk/*'], message: 'lib/domain stays free of the AWS SDK: take a client as a parameter in a higher floor.' },
            { group: ['aws-cdk-lib', 'aws-cdk-lib/*'], message: 'lib/domain stays free of aws-cdk-lib: constructs belong in lib/constructs and lib/stacks.' },
          ],
        },
      ],
    },
  },
  {
    // The local engine stands in for AWS; the terminal UI sits on top of it and the engine never
    // reaches up into it.
    files: ['lib/local/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(local/)?ui(/|$)',
              message: 'lib/local/engine does not import lib/local/ui: keep what the engine needs in lib/local/engine and draw it in the UI.',
            },
          ],
        },
      ],
    },
  },
  {
    // Commands parse their options in lib/cli; lib/operator takes parsed options and stays usable
    // without a command line.
    files: ['lib/operator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'commander', message: 'commander stays in lib/cli: lib/operator takes options already parsed (lib/cli/options.ts declares them).' }] },
      ],
    },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
