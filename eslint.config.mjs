import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'coverage/', '.ci/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // A focused or skipped test silently shrinks the suite.
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'focused test' },
        { object: 'describe', property: 'only', message: 'focused test' },
        { object: 'test', property: 'only', message: 'focused test' },
        { object: 'it', property: 'skip', message: 'skipped test' },
        { object: 'describe', property: 'skip', message: 'skipped test' },
        { object: 'test', property: 'skip', message: 'skipped test' },
      ],
      'no-restricted-globals': ['error', { name: 'xit', message: 'skipped test' }, { name: 'xdescribe', message: 'skipped test' }, { name: 'fit', message: 'focused test' }],
    },
  },
  {
    // Tests read untyped JSON (HTTP bodies, CloudFormation templates) as such.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
