// `node --import ./test/support/loaded-modules.register.mjs …` (or in NODE_OPTIONS): appends the
// URL of every module the process loads to the file named by SEALPOST_TEST_LOADED_MODULES, one
// per line: ES modules as they are resolved (by the hook in loaded-modules.hooks.mjs, which runs
// on the loader thread), CommonJS ones from require's cache when the process exits. Plain
// JavaScript, so that it loads before tsx does.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.SEALPOST_TEST_LOADED_MODULES;
if (file) {
  register('./loaded-modules.hooks.mjs', import.meta.url, { data: { file } });
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const urls = Object.keys(cache).map((p) => pathToFileURL(p).href);
    appendFileSync(file, urls.map((url) => `${url}\n`).join(''));
  });
}
