#!/usr/bin/env node
'use strict';
// Entry point of the `nasrl` command; the compiled CLI lives in ../dist (built by `npm run build`).
try {
  require('../dist/src/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/main.js')) {
    console.error('nasrl: the CLI is not built yet; run `npm run build` in the repository root first.');
    process.exit(1);
  }
  throw err;
}
