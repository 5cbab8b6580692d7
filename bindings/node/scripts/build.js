#!/usr/bin/env node
// Builds the addon from source with cmake-js (scripts/install.js runs it when
// no prebuilt addon fits; `npm run build` runs it directly).
//
// The build tools (cmake-js, node-addon-api: devDependencies, so that a
// package with prebuilt addons installs without them) come from this
// folder's node_modules when `npm install` ran here, else they are installed
// once into .build-tools at the versions package.json names.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tools = path.join(root, '.build-tools'); // not in build/: cmake-js may clean that
const buildTools = ['cmake-js', 'node-addon-api'];
const found = (m, from) => {
  try {
    return require.resolve(m, { paths: from });
  } catch {
    return null;
  }
};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let paths = [root];
if (!buildTools.every((m) => found(`${m}/package.json`, paths))) {
  paths = [tools];
  if (!buildTools.every((m) => found(`${m}/package.json`, paths))) {
    const want = require(path.join(root, 'package.json')).devDependencies;
    console.error(`nocalhost: installing the build tools (${buildTools.join(', ')}) into ${tools}`);
    fs.mkdirSync(tools, { recursive: true });
    execFileSync(
      npm,
      ['install', '--prefix', tools, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund',
        ...buildTools.map((m) => `${m}@${want[m]}`)],
      { cwd: tools, stdio: 'inherit' },
    );
  }
}
// `cmake-js compile` configures only a new build dir: drop the cache when it
// was configured for another libnocalhost (NOCALHOST_PREFIX changed).
const cache = path.join(root, 'build', 'CMakeCache.txt');
try {
  const configured = /^nocalhost_DIR:PATH=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'));
  const prefix = process.env.NOCALHOST_PREFIX;
  if (configured ? !prefix || !configured[1].startsWith(path.resolve(prefix)) : !!prefix) fs.rmSync(cache);
} catch {
  // no build dir yet
}
const cmakeJs = found('cmake-js/bin/cmake-js', paths);
// NODE_PATH: CMakeLists.txt asks node for node-addon-api's include dir.
const env = { ...process.env, NODE_PATH: [path.join(paths[0], 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
execFileSync(process.execPath, [cmakeJs, 'compile', '--log-level', 'warn', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env,
});
