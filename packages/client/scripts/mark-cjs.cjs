// dist/cjs holds CommonJS under a "type": "module" package: this marker tells Node and
// TypeScript (node16/nodenext resolution) that its .js and .d.ts files are CommonJS.
const { writeFileSync } = require('node:fs');
const path = require('node:path');

writeFileSync(path.join(__dirname, '..', 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
