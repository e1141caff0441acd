import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { stepAdvantages, stepRewards } from '@nasrl/cluster';
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

const close = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

test('stepRewards shapes rewards and multiplies in the cost factor', () => {
  // (0.5)² · (20/10)^−1 = 0.25 · 0.5; (0.8)² · (5/10)^−1 = 0.64 · 2.
  const bySeconds = { rewardScale: 1, rewardPower: 2, costReward: { metric: 'seconds' as const, target: 10, weight: -1 } };
  const rewards = stepRewards(bySeconds, [{ reward: 0.5, seconds: 20, parameters: 999 }, { reward: 0.8, seconds: 5, parameters: 1 }]);
  close(rewards[0] as number, 0.125);
  close(rewards[1] as number, 1.28);
  // An unknown cost (0 seconds) leaves the shaped reward alone.
  close(stepRewards(bySeconds, [{ reward: 0.5, seconds: 0, parameters: 1 }])[0] as number, 0.25);
  // Scale 0.01 puts 50 at 0.5; the parameter count is the cost: (4000/1000)^−0.5 = 0.5.
  const byParameters = { rewardScale: 0.01, rewardPower: 1, costReward: { metric: 'parameters' as const, target: 1000, weight: -0.5 } };
  close(stepRewards(byParameters, [{ reward: 50, seconds: 3, parameters: 4000 }])[0] as number, 0.25);
  // Without a cost-aware reward, the shaped reward alone; the power keeps the sign.
  const plain = { rewardScale: 1, rewardPower: 3, costReward: null };
  assert.deepEqual(stepRewards(plain, [{ reward: 0.5, seconds: 100, parameters: 100 }, { reward: -0.5, seconds: 1, parameters: 1 }]), [0.125, -0.125]);
});

test('stepAdvantages subtracts the baseline before the step, or the batch mean on the first step', () => {
  const first = stepAdvantages([0.125, 1.28], { value: 0, count: 0 });
  close(first.baseline, 0.7025);
  close(first.advantages[0] as number, -0.5775);
  close(first.advantages[1] as number, 0.5775);
  const later = stepAdvantages([0.125, 1.28], { value: 0.2, count: 3 });
  close(later.baseline, 0.2);
  close(later.advantages[0] as number, -0.075);
  close(later.advantages[1] as number, 1.08);
});

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
