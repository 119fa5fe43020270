// Lint: typescript-eslint's recommended rules plus the project's port hygiene —
// the port speaks frames on stdout, so nothing in port/ (outside the CLI) may print there.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'elixir/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='describe'][callee.property.name=/^(only|skip)$/]",
          message: 'Do not commit focused or skipped tests.',
        },
        {
          selector: "CallExpression[callee.object.name='it'][callee.property.name=/^(only|skip)$/]",
          message: 'Do not commit focused or skipped tests.',
        },
      ],
    },
  },
  {
    files: ['port/**/*.ts'],
    ignores: ['port/cli.ts', 'port/cli/**'],
    rules: {
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
);
