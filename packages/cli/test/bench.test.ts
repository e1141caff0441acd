import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '@nasrl/supervisor';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

interface Summary {
  mean: number;
  std: number;
  runs: number;
  evaluations: number;
  distinct: number;
  proposals: number;
  reuse: boolean;
}

/** The JSON line that ends `nasrl bench ... --json`. */
function lastJson(stdout: string): Record<string, Summary> {
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, Summary>;
}

function nasrl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('nasrl bench nb201 --json ends with one summary per strategy', () => {
  const r = nasrl(['bench', 'nb201', '--table', TABLE, '--runs', '4', '--json', '--threads', '2']);
  assert.equal(r.status, 0, r.stderr);
  const last = lastJson(r.stdout);
  assert.deepEqual(Object.keys(last).sort(), ['evolution', 'random', 'reinforce']);
  for (const s of Object.values(last)) {
    assert.equal(s.runs, 4);
    assert.ok(s.mean > 80 && s.mean <= 94.37, `mean ${s.mean} is a NAS-Bench-201 test accuracy`);
    assert.ok(s.evaluations > 50 && s.evaluations < 200, `about 100 evaluations per 12,000 s run, got ${s.evaluations}`);
  }
  // The published protocol: the baselines pay for every evaluation; the tuned REINFORCE reuses.
  assert.deepEqual([last.reinforce?.reuse, last.random?.reuse, last.evolution?.reuse], [true, false, false]);
  assert.match(r.stdout, /^random .*pays for every evaluation/m);
  assert.match(r.stdout, /^reinforce .*reuses known architectures/m);
});

test('nasrl bench nb201 --reuse random,evolution: the baselines pay only for new architectures, and say so', () => {
  const r = nasrl(['bench', 'nb201', '--table', TABLE, '--runs', '20', '--strategies', 'random,evolution', '--reuse', 'random,evolution', '--json', '--threads', '0']);
  assert.equal(r.status, 0, r.stderr);
  const last = lastJson(r.stdout);
  for (const s of [last.random, last.evolution]) {
    assert.ok(s);
    assert.equal(s.reuse, true);
    assert.equal(s.distinct, s.evaluations, 'no canonical architecture is paid for twice');
    assert.ok(s.proposals > s.evaluations + 1, `repeats were proposed and answered for free (${s.proposals} proposals, ${s.evaluations} evaluations)`);
  }
  assert.match(r.stdout, /^evolution .*reuses known architectures/m);
  const paying = lastJson(nasrl(['bench', 'nb201', '--table', TABLE, '--runs', '20', '--strategies', 'evolution', '--json', '--threads', '0']).stdout);
  assert.ok(paying.evolution && paying.evolution.distinct < paying.evolution.evaluations, 'by default evolution pays for its repeats');
});

test('nasrl bench table --reuse all ends runs once the space is exhausted', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'nasrl-bench-')), 'grid.json');
  const entries = [];
  for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) entries.push({ tokens: [`${a}`, `${b}`], reward: a + b });
  writeFileSync(file, JSON.stringify({ name: 'grid', tokens: [{ name: 'a', choices: ['0', '1', '2'] }, { name: 'b', choices: ['0', '1', '2'] }], entries }));
  const args = ['bench', 'table', '--file', file, '--budget-evals', '500', '--runs', '3', '--strategies', 'random,evolution', '--json', '--threads', '0'];
  const reused = lastJson(nasrl([...args, '--reuse', 'all']).stdout);
  const paid = lastJson(nasrl(args).stdout);
  for (const name of ['random', 'evolution']) {
    assert.ok((reused[name]?.evaluations ?? Infinity) <= 9, `${name} with reuse: at most the 9 architectures of the space`);
    assert.equal(paid[name]?.evaluations, 500, `${name} by default pays for all 500 evaluations`);
  }
});

test('nasrl bench nb201|table --help prints the usage and exits 0', () => {
  for (const kind of ['nb201', 'table']) {
    const r = nasrl(['bench', kind, '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^nasrl bench nb201 /m);
    assert.match(r.stdout, /^nasrl bench table --file PATH --budget-evals N/m);
    assert.match(r.stdout, /--reuse LIST/);
  }
});

test('nasrl bench refuses unknown strategies and bad numbers, naming them', () => {
  let r = nasrl(['bench', 'nb201', '--table', TABLE, '--strategies', 'random,annealing']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown strategy "annealing"/);
  r = nasrl(['bench', 'nb201', '--table', TABLE, '--reuse', 'random,annealing']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--reuse: unknown strategy "annealing"/);
  r = nasrl(['bench', 'nb201', '--runs', 'lots']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--runs: expected an integer/);
  r = nasrl(['bench', 'nb201', '--table', '/nonexistent.csv', '--runs', '1', '--strategies', 'random', '--threads', '0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\.csv: cannot read the NAS-Bench-201 table/);
});
