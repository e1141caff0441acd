import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '@nasrl/supervisor';

interface Run {
  strategy: string;
  seed: number;
  bestAccuracy: number;
  testAccuracy: number;
  retrainAccuracy: number;
  evaluations: number;
  distinct: number;
  proposals: number;
}

interface Report {
  budgetArchs: number;
  seeds: number;
  strategies: Record<string, { validation: { mean: number; se: number }; test: { mean: number; se: number }; runs: Run[] }>;
  difference: { validation: { value: number; se: number; shown: boolean }; test: { value: number; se: number; shown: boolean } };
}

function nasrl(args: string[], timeoutMs: number): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('nasrl bench search --help prints its usage', () => {
  const r = nasrl(['bench', 'search', '--help'], 30_000);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /usage: nasrl bench search/);
  assert.match(r.stdout, /--budget-archs N/);
});

test('nasrl bench search spends each run\'s budget on real training and reports both strategies', () => {
  const args = ['bench', 'search', '--subset', '200', '--validation-subset', '100', '--epochs', '1', '--budget-archs', '4', '--seeds', '2', '--children', '2', '--threads', '2', '--json'];
  const r = nasrl(args, 60_000);
  assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}\n${r.stdout}`);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Report;
  assert.deepEqual(Object.keys(report.strategies).sort(), ['random', 'reinforce']);
  for (const [name, s] of Object.entries(report.strategies)) {
    assert.deepEqual(s.runs.map((run) => run.seed).sort(), [1, 2], `${name}: one run per seed`);
    for (const run of s.runs) {
      assert.equal(run.strategy, name);
      assert.equal(run.evaluations, 4, `${name} seed ${run.seed} paid for exactly its budget`);
      assert.ok(run.distinct >= 1 && run.distinct <= 4, `${name} seed ${run.seed}: ${run.distinct} distinct architectures`);
      assert.ok(run.proposals >= run.evaluations);
      assert.ok(run.bestAccuracy >= 0 && run.bestAccuracy <= 1);
      assert.ok(run.testAccuracy >= 0 && run.testAccuracy <= 1, `test accuracy ${run.testAccuracy}`);
    }
    assert.ok(Number.isFinite(s.test.se) && s.test.se >= 0);
  }
  const d = report.difference.validation;
  const expected = (report.strategies.reinforce?.validation.mean as number) - (report.strategies.random?.validation.mean as number);
  assert.ok(Math.abs(d.value - expected) < 1e-12);
  assert.equal(d.shown, Math.abs(d.value) >= 2 * d.se);
  // A difference under two standard errors is stated as such.
  if (!d.shown) assert.match(r.stdout, /validation: no difference shown/);
});
