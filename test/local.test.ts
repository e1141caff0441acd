import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runNasrl, type CliRun } from '@nasrl/cli';
import { repoRoot } from '@nasrl/supervisor';

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
    assert.doesNotMatch(report, /http-equiv="refresh"/, 'the final report does not reload itself');
    const bestAccuracy = Math.max(...lines.map((l) => l.accuracy as number));
    assert.match(output, new RegExp(`400 of 400 architectures evaluated: ${out}/results\\.jsonl`));
    assert.match(output, new RegExp(`best validation accuracy ${bestAccuracy.toFixed(2).replace('.', '\\.')}%`));
    assert.match(output, new RegExp(`report: ${out}/report\\.html`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('nasrl local --space rnn evaluates exactly the budget with language-model children and reports perplexities', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'nasrl-local-rnn-'));
  try {
    const { code, output } = await runCli([
      'local', '--space', 'rnn', '--budget-archs', '8', '--replicas', '1', '--workers', '2', '--shards', '1', '--base', '2',
      '--hidden', '8', '--epochs', '1', '--train-tokens', '2000', '--eval-tokens', '600', '--out', out, '--id', 'e2e-rnn',
    ], 100_000);
    assert.equal(code, 0, output);
    const lines = readFileSync(path.join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 8);
    assert.equal(new Set(lines.map((l) => l.id)).size, 8);
    for (const l of lines) {
      const ppl = l.perplexity as number | undefined;
      // A cell whose training diverged has no perplexity and earns nothing.
      if (ppl === undefined) assert.deepEqual([l.reward, l.accuracy], [0, 0]);
      else {
        assert.ok(ppl > 1 && Number.isFinite(ppl), `perplexity ${ppl}`);
        assert.ok(Math.abs((l.reward as number) - 80 / ppl ** 2) < 1e-9, 'reward c / perplexity²');
        assert.ok(Math.abs((l.accuracy as number) - 1 / ppl) < 1e-12, 'accuracy 1 / perplexity');
      }
      assert.equal((l.architecture as { space: string; base: number }).base, 2);
      assert.equal((l.tokens as number[]).length, 10, 'base 2: 3 × 2 + 2 + 2 tokens');
    }
    const best = Math.min(...lines.filter((l) => l.perplexity !== undefined).map((l) => l.perplexity as number));
    assert.match(output, new RegExp(`best validation perplexity ${best.toFixed(2).replace('.', '\\.')}`));
    assert.match(output, /train the best cell again: .*train-arch .*best\.json --space rnn --corpus brown --level char --layers 1 --hidden 8 --epochs 1/);
    const report = readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.equal(count(report, /<rect class="cell-node /g), 3, 'the best base-2 cell drawn');
    assert.match(report, /<polyline class="best-perplexity"/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}
