'use strict';
// The addon: a source build or the prebuilt one that fits (./loader).
module.exports = require('./loader').load();
