import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '@nasrl/supervisor';
import { convPreset } from '../src/presets';
import { formatAccuracy, formatDuration, localExperiment, progressLine, RateMeter, retrainFlags } from '../src/commands/local';
import { rnnRetrainFlags } from '../src/commands/local-rnn';
import { RNN_EXPERIMENT_DEFAULTS } from '@nasrl/queue';
import { UsageError } from '../src/args';
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
    assert.doesNotMatch(report, /http-equiv="refresh"/, 'the final report does not reload itself');
    const bestAccuracy = Math.max(...lines.map((l) => l.accuracy as number));
    assert.match(output, new RegExp(`400 of 400 architectures evaluated: ${out}/results\\.jsonl`));
    assert.match(output, new RegExp(`best validation accuracy ${bestAccuracy.toFixed(2).replace('.', '\\.')}%`));
    assert.match(output, new RegExp(`report: ${out}/report\\.html`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('nasrl local refuses a bad flag value with a message naming it', async () => {
  const { code, output } = await runCli(['local', '--space', 'nb201', '--children', 'many'], 60_000);
  assert.equal(code, 2);
  assert.match(output, /--children: expected an integer/);
});

test('the conv space takes its settings from a preset (default small) and flags override them', () => {
  const small = convPreset('small').experiment as Record<string, unknown> & { training: Record<string, unknown>; spaceOptions: Record<string, unknown> };
  const d = localExperiment(['--id', 'p1']);
  assert.equal(d.preset, 'small');
  assert.equal(d.config.budgetArchs, small.budgetArchs);
  assert.equal(d.config.childrenPerStep, small.childrenPerStep);
  assert.equal(d.config.learningRate, small.learningRate);
  for (const [k, v] of Object.entries(small.training)) assert.deepEqual((d.config.training as unknown as Record<string, unknown>)[k], v, `training.${k}`);
  for (const [k, v] of Object.entries(small.spaceOptions)) assert.deepEqual((d.config.spaceOptions as Record<string, unknown>)[k], v, `spaceOptions.${k}`);

  const o = localExperiment(['--id', 'p2', '--budget-archs', '7', '--children', '3', '--epochs', '5', '--subset', '500', '--lr', '0.05', '--no-reuse']);
  assert.deepEqual([o.config.budgetArchs, o.config.childrenPerStep, o.config.training.epochs, o.config.training.subset, o.config.learningRate, o.config.reuseEvaluations], [7, 3, 5, 500, 0.05, false]);
  assert.equal(o.config.training.batchSize, small.training.batchSize, 'what no flag names stays the preset\'s');

  const paper = convPreset('paper').experiment as Record<string, unknown> & { training: Record<string, unknown> };
  const p = localExperiment(['--id', 'p3', '--preset', 'paper', '--data-dir', '/data/cifar']);
  assert.deepEqual([p.preset, p.config.budgetArchs, p.config.training.dataset, p.config.training.epochs, p.config.training.dataDir], ['paper', paper.budgetArchs, paper.training.dataset, paper.training.epochs, '/data/cifar']);
  assert.ok(retrainFlags(p.config, 'paper').join(' ').includes('--data-dir /data/cifar'), 'the retrain command reads the same data');
  assert.deepEqual(retrainFlags(d.config, 'small'), convPreset('small').retrain);

  assert.throws(() => localExperiment(['--id', 'p4', '--preset', 'paper']), (e: unknown) => e instanceof UsageError && /--data-dir/.test(e.message));
  assert.throws(() => localExperiment(['--preset', 'huge']), (e: unknown) => e instanceof UsageError && /small, paper/.test(e.message));
  assert.throws(() => localExperiment(['--space', 'nb201', '--preset', 'small']), (e: unknown) => e instanceof UsageError && /conv space/.test(e.message));
  assert.throws(() => localExperiment(['--resume', '/nonexistent-run', '--budget-archs', '9']), (e: unknown) => e instanceof UsageError && /only --workers and --replicas/.test(e.message));
});

test('the progress line shows evaluated/total, the rate, the time left, the best accuracy and the depth', () => {
  const line = progressLine({ space: 'conv', evaluated: 50, budget: 200, perMinute: 15, bestAccuracy: 0.91234, depth: 5 }, 20);
  assert.equal(line, '[#####...............] 50/200  15/min  left 10m00s  best 91.23%  depth 5');
  const early = progressLine({ space: 'nb201', evaluated: 0, budget: 400, perMinute: null, bestAccuracy: null, depth: null }, 10);
  assert.equal(early, '[..........] 0/400  -/min  left -  best -');
  assert.equal(formatAccuracy('nb201', 93.456), '93.46%');
  assert.equal(formatAccuracy('table', 0.5), '0.5000');
  assert.deepEqual([formatDuration(42), formatDuration(338), formatDuration(7500)], ['42s', '5m38s', '2h05m']);

  // The rate is the recent one: a burst two minutes ago no longer counts.
  const rate = new RateMeter(60_000, 5_000);
  rate.add(0, 0);
  assert.equal(rate.perMinute(), null);
  rate.add(10_000, 100);
  assert.equal(rate.perMinute(), 600);
  for (let t = 20_000; t <= 200_000; t += 10_000) rate.add(t, 100 + (t - 10_000) / 10_000);
  assert.ok(Math.abs((rate.perMinute() as number) - 6) < 1e-9, `recent rate ${rate.perMinute()}`);
});

test('the table space has its own defaults, needs --table, and every space refuses the flags it does not use', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-local-table-'));
  try {
    const file = path.join(dir, 'grid.json');
    writeFileSync(file, JSON.stringify({ name: 'grid', tokens: [{ name: 'a', choices: ['0', '1'] }], entries: [{ tokens: ['0'], reward: 3, test: 30 }] }));
    const t = localExperiment(['--space', 'table', '--table', file, '--id', 't1']);
    // A table space's rewards keep their scale: NAS-Bench-201's tuning (percent: 0.01, power 10) is not for it.
    assert.deepEqual([t.config.rewardScale, t.config.rewardPower, t.config.tablePath, t.config.refusedReward], [1, 1, file, 'worst']);
    const nb = localExperiment(['--space', 'nb201', '--id', 'n1', '--refused-reward', '-0.5']);
    assert.deepEqual([nb.config.rewardScale, nb.config.rewardPower, nb.config.refusedReward], [0.01, 10, -0.5]);
    assert.throws(() => localExperiment(['--space', 'table', '--id', 't2']), (e: unknown) => e instanceof UsageError && /--space table needs --table PATH: the table space JSON file/.test(e.message));
    const refused: [string[], RegExp][] = [
      [['--space', 'nb201', '--dataset', 'cifar10'], /--dataset: not for --space nb201, which takes --table, --time-scale; --dataset is for --space conv/],
      [['--space', 'table', '--table', file, '--epochs', '3', '--subset', '100'], /--epochs, --subset: not for --space table, .*; --epochs is for --space conv or rnn, --subset is for --space conv/],
      [['--table', file], /--table: not for --space conv, which takes --dataset, --data-dir, --epochs, --subset; --table is for --space nb201 or table/],
      [['--space', 'conv', '--time-scale', '0.1'], /--time-scale: not for --space conv/],
      [['--space', 'conv', '--hidden', '8'], /--hidden: not for --space conv, .*; --hidden is for --space rnn/],
      [['--space', 'rnn', '--subset', '100', '--table', file], /--subset, --table: not for --space rnn, which takes --base, --corpus, --data-dir, --level, --hidden/],
      [['--space', 'table', '--table', file, '--refused-reward', 'least'], /--refused-reward: expected worst .* or a number, got "least"/],
    ];
    for (const [argv, message] of refused) {
      assert.throws(() => localExperiment([...argv, '--id', 'x']), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('the rnn space trains small language models by default; its flags set the rnn settings and bad values are named', () => {
  const d = localExperiment(['--space', 'rnn', '--id', 'r1']);
  assert.deepEqual(d.config.rnn, RNN_EXPERIMENT_DEFAULTS);
  assert.deepEqual([d.config.space, d.config.evaluator, d.config.budgetArchs, d.config.childrenPerStep, d.preset], ['rnn', 'train', 100, 4, undefined]);
  const o = localExperiment([
    '--space', 'rnn', '--id', 'r2', '--budget-archs', '40', '--base', '2', '--level', 'word', '--hidden', '16', '--layers', '2', '--epochs', '1',
    '--train-tokens', 'all', '--eval-tokens', '900', '--reward-c', '50',
  ]);
  assert.deepEqual(
    [o.config.budgetArchs, o.config.rnn?.base, o.config.rnn?.level, o.config.rnn?.hiddenSize, o.config.rnn?.layers, o.config.rnn?.epochs, o.config.rnn?.trainTokens, o.config.rnn?.evaluationTokens, o.config.rnn?.rewardConstant],
    [40, 2, 'word', 16, 2, 1, null, 900, 50],
  );
  const p = localExperiment(['--space', 'rnn', '--id', 'r3', '--corpus', 'ptb', '--data-dir', '/data/ptb']);
  assert.deepEqual([p.config.rnn?.corpus, p.config.rnn?.dataDir], ['ptb', '/data/ptb']);
  // The retrain command trains the best cell with the search's settings.
  assert.equal(rnnRetrainFlags(o.config).join(' '), '--space rnn --corpus brown --level word --layers 2 --hidden 16 --epochs 1 --eval-tokens 900 --batch-size 20 --steps 20 --learning-rate 1 --reward-c 50');
  const refused: [string[], RegExp][] = [
    [['--base', '6'], /rnn\.base: expected a power of two .* \(--base\)/],
    [['--level', 'byte'], /--level: expected word or char, got "byte"/],
    [['--corpus', 'wiki'], /--corpus: expected brown or ptb, got "wiki"/],
    [['--corpus', 'ptb'], /--corpus ptb needs --data-dir DIR/],
    [['--data-dir', '/x'], /--data-dir: only for --corpus ptb/],
    [['--hidden', '0'], /--hidden:/],
    [['--train-tokens', 'many'], /--train-tokens:/],
    [['--preset', 'small'], /--preset is for the conv space/],
  ];
  for (const [argv, message] of refused) {
    assert.throws(() => localExperiment(['--space', 'rnn', '--id', 'x', ...argv]), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
  }
  assert.equal(formatAccuracy('rnn', 0.125), 'perplexity 8.00');
  assert.equal(formatAccuracy('rnn', 0), '-');
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
