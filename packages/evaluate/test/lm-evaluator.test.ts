import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EvaluationRefusedError, parseExperimentConfig } from '@nasrl/queue';
import { RnnSpace } from '@nasrl/spaces';
import { EvaluationCancelledError, LmEvaluator, perplexityAccuracy, TrainEvaluator, type ChildProgress } from '../src';

// A tiny proxy: base-2 cells, 8 units, one epoch over 2,000 characters of the embedded corpus.
const RNN = { base: 2, hiddenSize: 8, epochs: 2, trainTokens: 2_000, evaluationTokens: 600, batchSize: 5, steps: 10 };
const config = parseExperimentConfig({ id: 'lm-test', space: 'rnn', rnn: RNN });
const space = new RnnSpace({ base: 2 });
// tanh(add) leaves, a sigmoid(mul) root, c_{t-1} added into leaf 1, c_t from leaf 0.
const tokens = [0, 1, 0, 1, 1, 2, 0, 1, 0, 1];
const child = { tokens, layers: 1, arch: space.toJSON(space.decode(tokens)) };

test('the train evaluator trains an rnn-space child as a language model: reward c/ppl², accuracy 1/ppl, progress per epoch', { timeout: 60_000 }, async () => {
  const evaluator = new TrainEvaluator(config, 'cpu', () => undefined);
  const progress: ChildProgress[] = [];
  const r = await evaluator.evaluate(child, { progress: async (p) => void progress.push(p) });
  assert.ok(r.perplexity !== undefined && r.perplexity > 1 && r.perplexity < 80, `perplexity ${r.perplexity}`);
  const ppl = r.perplexity;
  assert.ok(Math.abs(r.reward - 80 / (ppl * ppl)) < 1e-9, `reward ${r.reward} = 80 / ${ppl}²`);
  assert.ok(Math.abs(r.accuracy - 1 / ppl) < 1e-12);
  assert.equal(r.curve.length, 2);
  assert.ok(Math.abs(Math.max(...r.curve) - r.accuracy) < 1e-12, 'the accuracy is the best epoch\'s');
  assert.deepEqual(progress.map((p) => [p.epoch, p.epochs]), [[1, 2], [2, 2]]);
  assert.deepEqual(progress.map((p) => p.validationAccuracy), r.curve);
  // Embedding and softmax over the characters, plus the base-2 cell's W and U (2 blocks of 8 units each).
  assert.ok(r.parameters > 2 * (8 * 16 + 8 * 16), `parameters ${r.parameters}`);
  assert.ok(r.seconds > 0);

  // The same settings and seed give the same child: the evaluation is reproducible.
  const again = await new LmEvaluator(config, 'cpu', () => undefined).evaluate(child, { progress: async () => undefined });
  assert.equal(again.perplexity, r.perplexity);
});

test('an LM child over the parameter limit is refused, a cancelled one is retried', { timeout: 60_000 }, async () => {
  const small = parseExperimentConfig({ id: 'lm-small', space: 'rnn', rnn: RNN, limits: { maxParameters: 100 } });
  await assert.rejects(new TrainEvaluator(small, 'cpu', () => undefined).evaluate(child, { progress: async () => undefined }),
    (err: unknown) => err instanceof EvaluationRefusedError && /maxParameters/.test(err.message));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(new TrainEvaluator(config, 'cpu', () => undefined).evaluate(child, { progress: async () => undefined, signal: controller.signal }),
    (err: unknown) => err instanceof EvaluationCancelledError);
});

test('the LM evaluator takes rnn experiments only; 1/perplexity is 0 for a diverged child', () => {
  assert.throws(() => new LmEvaluator(parseExperimentConfig({ id: 'cv' }), 'cpu', () => undefined), /has space "conv"; it trains rnn-space children only/);
  assert.equal(perplexityAccuracy(Infinity), 0);
  assert.equal(perplexityAccuracy(NaN), 0);
  assert.equal(perplexityAccuracy(4), 0.25);
});
