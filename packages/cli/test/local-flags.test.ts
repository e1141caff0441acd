import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RNN_EXPERIMENT_DEFAULTS } from '@nasrl/queue';
import { UsageError } from '../src/args';
import { formatAccuracy, formatDuration, localExperiment, progressLine, RateMeter, retrainFlags } from '../src/commands/local';
import { rnnRetrainFlags } from '../src/commands/local-rnn';
import { convPreset } from '../src/presets';
import { runNasrl } from '../src/testing';

// What `nasrl local` makes of its flags, and its progress line; test/local.test.ts runs whole searches.

test('nasrl local refuses a bad flag value with a message naming it', async () => {
  const { code, output } = await runNasrl(['local', '--space', 'nb201', '--children', 'many'], { REDIS_URL: '' }, 60_000);
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
  const retrain = retrainFlags({ ...d.config, training: { ...d.config.training, learningRate: 0.05 } }, 'small');
  assert.equal(retrain[retrain.indexOf('--lr') + 1], '0.05', 'the retrain command trains at the rate the search trained its children');

  assert.throws(() => localExperiment(['--id', 'p4', '--preset', 'paper']), (e: unknown) => e instanceof UsageError && /--data-dir/.test(e.message));
  assert.throws(() => localExperiment(['--preset', 'huge']), (e: unknown) => e instanceof UsageError && /small, paper/.test(e.message));
  assert.throws(() => localExperiment(['--space', 'nb201', '--preset', 'small']), (e: unknown) => e instanceof UsageError && /conv space/.test(e.message));
  assert.throws(() => localExperiment(['--resume', '/nonexistent-run', '--budget-archs', '9']), (e: unknown) => e instanceof UsageError && /only --workers and --replicas/.test(e.message));
});

test('--steps-in-flight sets how many steps each replica keeps in flight (default 1, the paper\'s loop)', () => {
  assert.equal(localExperiment(['--id', 'f1', '--space', 'nb201']).config.stepsInFlight, 1);
  assert.equal(localExperiment(['--id', 'f2', '--space', 'nb201', '--steps-in-flight', '2']).config.stepsInFlight, 2);
  assert.throws(() => localExperiment(['--id', 'f3', '--space', 'nb201', '--steps-in-flight', '0']), (e: unknown) => e instanceof UsageError && /--steps-in-flight/.test(e.message));
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
