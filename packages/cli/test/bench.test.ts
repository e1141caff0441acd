import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../src/processes';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

function nasrl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('nasrl bench nb201 --json ends with one summary per strategy', () => {
  const r = nasrl(['bench', 'nb201', '--table', TABLE, '--runs', '4', '--json', '--threads', '2']);
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Record<string, { mean: number; std: number; runs: number; evaluations: number }>;
  assert.deepEqual(Object.keys(last).sort(), ['evolution', 'random', 'reinforce']);
  for (const s of Object.values(last)) {
    assert.equal(s.runs, 4);
    assert.ok(s.mean > 80 && s.mean <= 94.37, `mean ${s.mean} is a NAS-Bench-201 test accuracy`);
    assert.ok(s.evaluations > 50 && s.evaluations < 200, `about 100 evaluations per 12,000 s run, got ${s.evaluations}`);
  }
});

test('nasrl bench refuses unknown strategies and bad numbers, naming them', () => {
  let r = nasrl(['bench', 'nb201', '--table', TABLE, '--strategies', 'random,annealing']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown strategy "annealing"/);
  r = nasrl(['bench', 'nb201', '--runs', 'lots']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--runs: expected an integer/);
  r = nasrl(['bench', 'nb201', '--table', '/nonexistent.csv', '--runs', '1', '--strategies', 'random', '--threads', '0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\.csv: cannot read the NAS-Bench-201 table/);
});
