// Loads the native modules as the application does and proves they were built for the Node that
// runs this: each one's build records the node_module_version of the headers it was compiled
// against, which must be this process's ABI (process.versions.modules). Used by scripts/node24.sh.
'use strict';
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const path = require('node:path');

const abi = process.versions.modules;

function builtFor(moduleName) {
  const gypi = readFileSync(path.join(path.dirname(require.resolve(`${moduleName}/package.json`)), 'build', 'config.gypi'), 'utf8');
  const match = /"node_module_version":\s*(\d+)/.exec(gypi);
  assert.ok(match, `${moduleName}: no node_module_version in build/config.gypi`);
  return match[1];
}

for (const name of ['better-sqlite3', 'argon2']) {
  const version = builtFor(name);
  assert.equal(version, abi, `${name} was built for NODE_MODULE_VERSION ${version}, this Node is ${abi}`);
}

// Loading them is the real proof: Node refuses a V8-ABI binary of another version (better-sqlite3),
// and the N-API one (argon2) must at least work.
const Database = require('better-sqlite3');
const row = new Database(':memory:').prepare('select sqlite_version() as v').get();
const argon2 = require('argon2');
argon2
  .hash('sealpost', { timeCost: 2, memoryCost: 4096 })
  .then((hash) => argon2.verify(hash, 'sealpost'))
  .then((ok) => {
    assert.equal(ok, true);
    const file = require.resolve('better-sqlite3');
    console.log(`native modules built for ABI ${abi} and loaded by Node ${process.version}: better-sqlite3 (SQLite ${row.v}, ${path.relative(process.cwd(), file)}), argon2`);
  });
