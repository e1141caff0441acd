#!/usr/bin/env node
'use strict';
// Runs every compiled test file (packages/*/dist/test, services/*/dist/test, test/dist) and the deploy checks
// (test/deploy) with node's test runner.
// Arguments are substrings that select test files: `npm test -- controller` runs only the controller's tests.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
function collect(dir, out) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) collect(full, out);
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
}
const files = [];
for (const group of ['packages', 'services']) {
  const base = path.join(root, group);
  if (!fs.existsSync(base)) continue;
  for (const name of fs.readdirSync(base)) collect(path.join(base, name, 'dist', 'test'), files);
}
collect(path.join(root, 'test', 'dist'), files);
// The deploy checks are plain JavaScript (no build step).
collect(path.join(root, 'test', 'deploy'), files);
const filters = process.argv.slice(2);
const selected = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (selected.length === 0) {
  console.error('run-tests: no compiled test files matched; run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-timeout=600000', ...selected], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
