// ESLint flat config: typescript-eslint for type-aware rules, eslint-plugin-security for
// the Node-specific footguns (non-literal fs paths, child_process, unsafe regexes).
import js from '@eslint/js';
import security from 'eslint-plugin-security';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'packages/*/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  security.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Paths in this codebase come from validated configuration, never from request input;
      // the rule cannot tell the two apart and would flag every file access.
      'security/detect-non-literal-fs-filename': 'off',
      // Object lookups by a validated key are the normal case here; see STYLE.md "Validation at the edge".
      'security/detect-object-injection': 'off',
    },
  },
);
