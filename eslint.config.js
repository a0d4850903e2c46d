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
  {
    // The operator console (packages/console): browser code, React with JSX.
    files: ['packages/console/**/*.{ts,tsx}'],
    // (TypeScript checks names against the DOM library; typescript-eslint turns `no-undef` off.)
    languageOptions: { parserOptions: { ecmaFeatures: { jsx: true } } },
    rules: {
      // Payload content is rendered as text only (threat model): no raw HTML sink in the console.
      'no-restricted-syntax': [
        'error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'The console renders payload content as text only; never dangerouslySetInnerHTML.' },
        { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: 'No HTML sinks in the console: render text through React.' },
        { selector: "CallExpression[callee.property.name=/^(insertAdjacentHTML|write|writeln)$/]", message: 'No HTML sinks in the console: render text through React.' },
        { selector: "JSXAttribute[name.name='style']", message: 'The CSP allows no inline styles (style-src \'self\'): use a class from styles.css.' },
      ],
    },
  },
  {
    // Plain JavaScript run by Node directly: build helpers and the packaging checks' customer programs.
    files: ['**/*.cjs', '**/*.mjs'],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // One composition root (DESIGN §2, STYLE.md "Composition"): repositories and services are
    // built in src/app/ only and handed to whoever needs them.
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    ignores: [
      'src/app/**',
      'src/**/*.test.ts',
      // Known exceptions, each building only its own internals: the worker's outbox and attempt
      // writers, the offline `audit verify` reader, the SMTP session's per-server message service,
      // and the audit log's default event repository.
      'src/delivery/delivery.worker.ts',
      'src/audit/audit-verify.ts',
      'src/audit/audit-log.ts',
      'src/audit/audit-tree.ts',
      'src/ingest/smtp/smtp.server.ts',
    ],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name=/(Repository|Service)$/]',
          message: 'Repositories and services are constructed in src/app/ (the composition root) only; take them from createSealpost().',
        },
      ],
    },
  },
);
