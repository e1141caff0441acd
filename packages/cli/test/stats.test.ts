import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExperimentConfig } from '@nasrl/queue';
import { kendall, median, ranks, spearman, standardError } from '../src/stats';
import { longerConfig } from '../src/commands/bench-proxy';
import { convPreset } from '../src/presets';

test('rank correlations match values worked out by hand', () => {
  assert.deepEqual(ranks([10, 30, 20, 20]), [1, 4, 2.5, 2.5]);
  assert.equal(spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 100]), 1);
  assert.equal(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]), -1);
  // d = [0, 0, 1, -1, 0]: 1 - 6·2 / (5·24) = 0.9.
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [1, 2, 4, 3, 5]) - 0.9) < 1e-12);
  // 9 concordant, 1 discordant pair: τ = 0.8.
  assert.ok(Math.abs(kendall([1, 2, 3, 4, 5], [1, 2, 4, 3, 5]) - 0.8) < 1e-12);
  // A tie on one side: 9 concordant pairs, one tied in x only; τ-b = 9 / √(10 · 9).
  assert.ok(Math.abs(kendall([1, 1, 2, 3, 4], [1, 2, 3, 4, 5]) - 9 / Math.sqrt(9 * 10)) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), 'a constant side has no correlation');
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Math.abs(standardError([1, 2, 3, 4]) - Math.sqrt(5 / 3) / 2) < 1e-12);
});

test('the longer setting of bench proxy has F times the training images and a validation sample of 5,000', () => {
  const config = parseExperimentConfig({ id: 'p', space: 'conv', ...convPreset('small').experiment });
  const long = longerConfig(config, 5, 50_000);
  assert.equal(long.training.subset, (config.training.subset as number) * 5);
  assert.equal(long.training.epochs, config.training.epochs);
  assert.equal(long.training.validationSubset, 5000);
  assert.deepEqual(long.spaceOptions, config.spaceOptions);
  assert.throws(() => longerConfig(config, 20, 50_000), /--long-factor 20: 120000 training images asked for, the dataset has 50000/);
});
