import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPERIMENT_DEFAULTS, InvalidConfigError, parseExperimentConfig, redisOptionsFromUrl, RNN_EXPERIMENT_DEFAULTS } from '../src';

test('defaults are filled and the result is canonical', () => {
  const c = parseExperimentConfig({ id: 'exp-1' });
  assert.equal(c.space, 'conv');
  assert.equal(c.evaluator, 'train');
  assert.equal(c.budgetArchs, EXPERIMENT_DEFAULTS.budgetArchs);
  assert.equal(c.childrenPerStep, 8);
  assert.equal(c.stepsInFlight, 1, 'the paper\'s loop: one step in flight per replica');
  // The conv space's reward is the validation accuracy cubed (SPEC); the other spaces' rewards stay linear.
  assert.equal(c.rewardPower, 3);
  assert.equal(parseExperimentConfig({ id: 'nb', space: 'nb201', tablePath: 't.csv' }).rewardPower, 1);
  assert.equal(parseExperimentConfig({ id: 'lm', space: 'rnn' }).rewardPower, 1);
  assert.equal(parseExperimentConfig({ id: 'cv', rewardPower: 1 }).rewardPower, 1, 'a stated power is kept');
  assert.equal(c.baselineDecay, 0.95);
  assert.deepEqual(c.policy, { hiddenSize: 35, lstmLayers: 2, temperature: 1, tanhConstant: 0 });
  assert.deepEqual(c.spaceOptions.filterCounts, [24, 36, 48, 64]);
  assert.equal(c.tablePath, null);
  const again = parseExperimentConfig(JSON.parse(JSON.stringify(c)));
  assert.equal(JSON.stringify(again), JSON.stringify(c));
  assert.equal(JSON.stringify(parseExperimentConfig(JSON.stringify(c))), JSON.stringify(c));
});

test('the rnn space trains its children with the small language-model defaults, and its settings are canonical', () => {
  const c = parseExperimentConfig({ id: 'lm', space: 'rnn' });
  assert.equal(c.evaluator, 'train');
  assert.deepEqual(c.rnn, RNN_EXPERIMENT_DEFAULTS);
  assert.equal(parseExperimentConfig({ id: 'cv' }).rnn, null, 'other spaces have no rnn settings');
  const w = parseExperimentConfig({ id: 'lm', space: 'rnn', rnn: { base: 2, level: 'word', corpus: 'ptb', dataDir: '/data/ptb', trainTokens: null, rewardConstant: 50 } });
  assert.deepEqual([w.rnn?.base, w.rnn?.level, w.rnn?.dataDir, w.rnn?.trainTokens, w.rnn?.rewardConstant, w.rnn?.hiddenSize], [2, 'word', '/data/ptb', null, 50, 32]);
  assert.equal(JSON.stringify(parseExperimentConfig(JSON.stringify(w))), JSON.stringify(w));
  // A configuration stored before the field existed reads as one without rnn settings.
  const { rnn: _omitted, ...older } = parseExperimentConfig({ id: 'nb', space: 'nb201', tablePath: 't.csv' });
  assert.equal(parseExperimentConfig(older).rnn, null);
});

test('table spaces default to the table evaluator and need a table', () => {
  const c = parseExperimentConfig({ id: 'nb', space: 'nb201', tablePath: '/data/nb201.csv', timeScale: 0.01 });
  assert.equal(c.evaluator, 'table');
  assert.deepEqual(c.spaceOptions, {});
  assert.throws(() => parseExperimentConfig({ id: 'nb', space: 'nb201' }), /tablePath: required/);
});

const bad: [unknown, RegExp][] = [
  [{ id: 'has space' }, /id: expected 1 to 64 characters/],
  [{ id: 'x'.repeat(65) }, /id:/],
  [{ id: 'a', colour: 'red' }, /colour: unknown key/],
  [{ id: 'a', policy: { hidden: 3 } }, /policy\.hidden: unknown key/],
  [{ id: 'a', budgetArchs: 0 }, /budgetArchs: expected an integer in \[1,/],
  [{ id: 'a', budgetArchs: 2.5 }, /budgetArchs: expected an integer/],
  [{ id: 'a', stepsInFlight: 0 }, /stepsInFlight: expected an integer in \[1, 16\]/],
  [{ id: 'a', stepsInFlight: 17 }, /stepsInFlight: expected an integer in \[1, 16\]/],
  [{ id: 'a', baselineDecay: 1 }, /baselineDecay: expected a number in \[0, 1\)/],
  [{ id: 'a', learningRate: 'fast' }, /learningRate: expected a finite number/],
  [{ id: 'a', space: 'lstm' }, /space: expected one of "conv", "nb201", "table", "rnn"/],
  [{ id: 'a', evaluator: 'table' }, /evaluator: "table" needs space/],
  [{ id: 'a', space: 'nb201', evaluator: 'train', tablePath: 'x' }, /evaluator: "train" needs space "conv"/],
  [{ id: 'a', tablePath: 'x.csv' }, /tablePath: only used by the table evaluator/],
  [{ id: 'a', training: { dataset: 'cifar10' } }, /training\.dataDir: required for dataset "cifar10"/],
  [{ id: 'a', training: { epochs: 0 } }, /training\.epochs:/],
  [{ id: 'a', limits: { maxParameters: -1 } }, /limits\.maxParameters:/],
  [{ id: 'a', spaceOptions: { filterCounts: [0] } }, /spaceOptions: .*filterCounts/],
  [{ id: 'a', spaceOptions: { depth: 3 } }, /spaceOptions\.depth: unknown key/],
  [{ id: 'a', space: 'table', tablePath: 't.json', spaceOptions: { anchors: false } }, /spaceOptions: only the conv space/],
  [{ id: 'a', reuseEvaluations: 'yes' }, /reuseEvaluations: expected true or false/],
  [{ id: 'a', timeScale: -1 }, /timeScale: expected a number ≥ 0/],
  [{ id: 'a', space: 'rnn', rnn: { base: 6 } }, /rnn\.base: expected a power of two/],
  [{ id: 'a', space: 'rnn', rnn: { base: 128 } }, /rnn\.base: expected an integer in \[2, 64\]/],
  [{ id: 'a', space: 'rnn', rnn: { level: 'byte' } }, /rnn\.level: expected one of "word", "char"/],
  [{ id: 'a', space: 'rnn', rnn: { corpus: 'ptb' } }, /rnn\.dataDir: required for corpus "ptb"/],
  [{ id: 'a', space: 'rnn', rnn: { dataDir: '/data' } }, /rnn\.dataDir: only used by corpus "ptb"/],
  [{ id: 'a', space: 'rnn', rnn: { hidden: 8 } }, /rnn\.hidden: unknown key \(accepted: base, corpus/],
  [{ id: 'a', space: 'rnn', rnn: { hiddenSize: 0 } }, /rnn\.hiddenSize: expected an integer in \[1,/],
  [{ id: 'a', space: 'rnn', rnn: { trainTokens: 1 } }, /rnn\.trainTokens: expected an integer in \[2,/],
  [{ id: 'a', space: 'rnn', rnn: { dropout: 1 } }, /rnn\.dropout: expected a number in \[0, 1\)/],
  [{ id: 'a', space: 'rnn', rnn: { rewardConstant: 0 } }, /rnn\.rewardConstant: expected a number > 0/],
  [{ id: 'a', space: 'rnn', rnn: 'small' }, /rnn: expected an object/],
  [{ id: 'a', space: 'rnn', evaluator: 'table', tablePath: 'x' }, /evaluator: "table" needs space "nb201" or "table"; the rnn space has no table/],
  [{ id: 'a', rnn: { base: 2 } }, /rnn: only the rnn space has rnn settings; remove them for space "conv"/],
  [[1, 2], /\(root\): expected an object/],
  ['{not json', /not valid JSON/],
];
for (const [input, message] of bad) {
  test(`rejects ${JSON.stringify(input).slice(0, 70)}`, () => {
    assert.throws(() => parseExperimentConfig(input), (err: unknown) => err instanceof InvalidConfigError && message.test(err.message));
  });
}

test('redis URLs carry credentials, database and TLS', () => {
  assert.deepEqual(redisOptionsFromUrl('redis://127.0.0.1:6380'), { host: '127.0.0.1', port: 6380, db: 0 });
  const o = redisOptionsFromUrl('rediss://user:p%40ss@redis.example:6390/2');
  assert.equal(o.username, 'user');
  assert.equal(o.password, 'p@ss');
  assert.equal(o.db, 2);
  assert.deepEqual(o.tls, { servername: 'redis.example' });
  assert.throws(() => redisOptionsFromUrl('http://x'), /REDIS_URL: scheme must be redis: or rediss:/);
  assert.throws(() => redisOptionsFromUrl('nonsense'), /REDIS_URL: not a URL/);
  assert.throws(() => redisOptionsFromUrl('redis://h/abc'), /database must be a number/);
});

test('training settings and the cost-aware reward are parsed with defaults, and bad values are named', () => {
  const d = parseExperimentConfig({ id: 'e1' });
  assert.deepEqual([d.training.learningRate, d.training.augment, d.training.validationSubset, d.costReward], [0.1, true, null, null]);
  const c = parseExperimentConfig({
    id: 'e2', costReward: { metric: 'seconds', target: 12, weight: -0.07 },
    training: { learningRate: 0.05, augment: false, validationSubset: 2000 },
  });
  assert.deepEqual(c.costReward, { metric: 'seconds', target: 12, weight: -0.07 });
  assert.deepEqual([c.training.learningRate, c.training.augment, c.training.validationSubset], [0.05, false, 2000]);
  assert.deepEqual(parseExperimentConfig(JSON.stringify(c)), c, 'canonical');
  assert.throws(() => parseExperimentConfig({ id: 'e', costReward: { metric: 'flops', target: 1, weight: -0.1 } }), /costReward.metric/);
  assert.throws(() => parseExperimentConfig({ id: 'e', costReward: { metric: 'seconds', target: 0, weight: -0.1 } }), /costReward.target/);
  assert.throws(() => parseExperimentConfig({ id: 'e', costReward: { metric: 'seconds', target: 5, weight: 0.5 } }), /costReward.weight/);
  assert.throws(() => parseExperimentConfig({ id: 'e', costReward: { metric: 'seconds' } }), /costReward: needs metric/);
  assert.throws(() => parseExperimentConfig({ id: 'e', training: { augment: 'yes' } }), /training.augment/);
  assert.throws(() => parseExperimentConfig({ id: 'e', training: { learningRate: -1 } }), /training.learningRate/);
  assert.throws(() => parseExperimentConfig({ id: 'e', training: { validationSubset: 0 } }), /training.validationSubset/);
});
