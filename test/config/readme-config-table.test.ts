import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTableMarkdown } from '../../src/config/config.docs.js';

describe('README configuration table', () => {
  it('matches the configuration schema', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const table = /<!-- config-table:start[^>]*-->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)?.[1];
    expect(table, 'regenerate it with: npx tsx -e "import(\'./src/config/config.docs.ts\').then(m => console.log(m.configTableMarkdown()))"').toBe(
      configTableMarkdown(),
    );
  });
});
