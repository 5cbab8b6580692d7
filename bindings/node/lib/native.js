'use strict';
// Loads the addon that `npm install` built with cmake-js (libnocalhost.so.N
// sits next to it and is found through RPATH $ORIGIN).
const path = require('node:path');

const candidates = ['Release', 'Debug'].map((c) => path.join(__dirname, '..', 'build', c, 'nocalhost.node'));
let lastError;
for (const file of candidates) {
  try {
    module.exports = require(file);
    return;
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    lastError = e;
  }
}
throw new Error(`nocalhost: the native addon is not built (run \`npm install\` in ${path.join(__dirname, '..')}): ${lastError.message}`);
