#!/usr/bin/env node
// Builds the addon with cmake-js; `npm install` runs it.
//
// `npm install ./bindings/node` links this folder into the consumer's
// node_modules without installing this package's own dependencies here, so
// the build tools (cmake-js, node-addon-api, node-api-headers) are installed
// into this folder first when they are missing.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const found = (m) => {
  try {
    require.resolve(m, { paths: [root] });
    return true;
  } catch {
    return false;
  }
};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

if (!found('cmake-js/package.json') || !found('node-addon-api')) {
  console.error('nocalhost: installing the build tools (cmake-js, node-addon-api)');
  execFileSync(npm, ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev'], {
    cwd: root,
    stdio: 'inherit',
  });
}
// `cmake-js compile` configures only a new build dir: drop the cache when it
// was configured for another libnocalhost (NOCALHOST_PREFIX changed).
const cache = path.join(root, 'build', 'CMakeCache.txt');
try {
  const found = /^nocalhost_DIR:PATH=(.*)$/m.exec(require('node:fs').readFileSync(cache, 'utf8'));
  const prefix = process.env.NOCALHOST_PREFIX;
  if (found ? !prefix || !found[1].startsWith(path.resolve(prefix)) : !!prefix) require('node:fs').rmSync(cache);
} catch {
  // no build dir yet
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
execFileSync(process.execPath, [cmakeJs, 'compile', '--log-level', 'warn', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
