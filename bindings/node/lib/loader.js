'use strict';
// Finds and loads the addon the way node-gyp-build does (the prebuildify
// layout), without depending on it:
//   1. a source build: build/Release/nocalhost.node, build/Debug/nocalhost.node
//      (`npm install` built it with cmake-js; libnocalhost.so.N sits next to
//      it and is found through RPATH $ORIGIN);
//   2. a prebuilt addon shipped in the package:
//      prebuilds/<platform>-<arch>/<name>.<tags>.node, tags among `napi`,
//      `abiNN`, `node`, `glibc`/`musl`, `armvN`; the most specific one that
//      fits this process wins. The libraries it needs lie beside it under
//      hashed names (scripts/package npm).
// NOCALHOST_PREBUILDS_ONLY=1 skips 1 (node-gyp-build's PREBUILDS_ONLY).
// `resolve()` names the file without loading it; `prebuild()` the prebuilt
// addon that fits (scripts/install.js tries it).
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

// 'glibc' or 'musl' (Node's report names the glibc it runs on), '' off Linux.
function libc() {
  if (process.platform !== 'linux') return '';
  if (!process.report || typeof process.report.getReport !== 'function') return 'glibc';
  const exclude = process.report.excludeNetwork;
  process.report.excludeNetwork = true; // no reverse DNS lookups for the report's network part
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  } finally {
    process.report.excludeNetwork = exclude;
  }
}

function parseTags(file) {
  const parts = file.split('.');
  if (parts.pop() !== 'node') return null;
  const tags = { file, specificity: 0 };
  for (const tag of parts) {
    if (tag === 'node' || tag === 'electron' || tag === 'node-webkit') tags.runtime = tag;
    else if (tag === 'napi') tags.napi = true;
    else if (/^abi\d+$/.test(tag)) tags.abi = tag.slice(3);
    else if (/^armv\d+$/.test(tag)) tags.armv = tag.slice(4);
    else if (tag === 'glibc' || tag === 'musl') tags.libc = tag;
  }
  return tags;
}

function fits(tags, want) {
  if (tags.runtime && tags.runtime !== 'node') return false;
  if (tags.abi && tags.abi !== process.versions.modules && !tags.napi) return false;
  if (!tags.abi && !tags.napi) return false;
  if (tags.libc && tags.libc !== want.libc) return false;
  if (tags.armv && tags.armv !== want.armv) return false;
  return true;
}

function prebuild(dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)) {
  let files;
  try {
    files = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const want = { libc: libc(), armv: process.arch === 'arm' ? String(process.config.variables.arm_version) : undefined };
  const score = (t) => (t.runtime ? 4 : 0) + (t.abi ? 2 : 0) + (t.libc ? 1 : 0);
  const best = files
    .map(parseTags)
    .filter((t) => t && fits(t, want))
    .sort((a, b) => score(b) - score(a))[0];
  return best ? path.join(dir, best.file) : null;
}

function resolve() {
  if (!process.env.NOCALHOST_PREBUILDS_ONLY) {
    for (const c of ['Release', 'Debug']) {
      const file = path.join(root, 'build', c, 'nocalhost.node');
      if (fs.existsSync(file)) return file;
    }
  }
  return prebuild();
}

function load() {
  const file = resolve();
  if (!file) {
    throw new Error(
      `nocalhost: no native addon for ${process.platform}-${process.arch} (${libc() || 'no libc tag'}): ` +
        `no prebuilt one fits and none was built; run \`npm rebuild nocalhost --build-from-source\` ` +
        `(needs CMake, a C++20 compiler and libnocalhost, e.g. libnocalhost-dev)`,
    );
  }
  return require(file);
}

module.exports = { resolve, prebuild, load };
