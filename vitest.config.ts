import { defineConfig } from 'vitest/config';

// `sealpost-source` resolves the workspace package @sealpost/verify to its TypeScript source,
// so tests never run against a stale build.
export default defineConfig({
  ssr: { resolve: { conditions: ['sealpost-source', 'node', 'development|production'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
