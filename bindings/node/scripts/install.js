#!/usr/bin/env node
// `npm install` runs this: a prebuilt addon that fits this platform and loads
// (prebuilds/<platform>-<arch>/, see lib/loader.js) needs nothing more;
// otherwise, or with `--build-from-source` (npm_config_build_from_source),
// the addon is built from source (scripts/build.js).
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { prebuild } = require('../lib/loader');

const fromSource = ['true', '1', 'nocalhost'].includes(process.env.npm_config_build_from_source || '');
const file = fromSource ? null : prebuild();
if (file) {
  try {
    require(file);
    console.error(`nocalhost: using the prebuilt addon ${path.relative(path.join(__dirname, '..'), file)}`);
    process.exit(0);
  } catch (e) {
    console.error(`nocalhost: the prebuilt addon does not load here (${e.message.split('\n')[0]}): building from source`);
  }
}
execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
