import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../src/processes';
import { runNasrl, type CliRun } from './helpers';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');

// REDIS_URL unset: nasrl local starts a redis-server of its own.
const runCli = (args: string[], timeoutMs: number): Promise<CliRun> => runNasrl(args, { REDIS_URL: '' }, timeoutMs);

test('nasrl local on NAS-Bench-201 evaluates exactly the budget and the controller learns', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(TABLE), `the NAS-Bench-201 table is expected at ${TABLE}`);
  const out = mkdtempSync(path.join(tmpdir(), 'nasrl-local-'));
  try {
    const { code, output } = await runCli(
      ['local', '--space', 'nb201', '--table', TABLE, '--shards', '2', '--replicas', '2', '--children', '4', '--workers', '3', '--budget-archs', '400', '--out', out, '--id', 'e2e-nb201'],
      540_000,
    );
    assert.equal(code, 0, output);
    const lines = readFileSync(path.join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 400);
    assert.equal(new Set(lines.map((l) => l.id)).size, 400, 'every child counted once');
    for (const l of lines) {
      for (const key of ['id', 'tokens', 'architecture', 'reward', 'curve', 'parameters', 'seconds', 'worker', 'replica', 'step', 'parameterVersions']) {
        assert.ok(key in l, `results.jsonl lines carry ${key}`);
      }
    }
    assert.ok(lines.every((l) => (l.parameters as number) > 0), 'NAS-Bench-201 children report their parameter count');
    const mean = (xs: Record<string, unknown>[]): number => xs.reduce((a, l) => a + (l.reward as number), 0) / xs.length;
    const first = mean(lines.slice(0, 100));
    const last = mean(lines.slice(-100));
    assert.ok(last > first, `mean reward of the last 100 (${last}) should exceed the first 100 (${first})`);
    const best = JSON.parse(readFileSync(path.join(out, 'best.json'), 'utf8')) as { evaluations: number; best: { reward: number } };
    assert.equal(best.evaluations, 400);
    assert.equal(best.best.reward, Math.max(...lines.map((l) => l.reward as number)));
    const report = readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.match(report, /<svg/);
    assert.match(report, /e2e-nb201/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('nasrl local refuses a bad flag value with a message naming it', async () => {
  const { code, output } = await runCli(['local', '--space', 'nb201', '--children', 'many'], 60_000);
  assert.equal(code, 2);
  assert.match(output, /--children: expected an integer/);
});
