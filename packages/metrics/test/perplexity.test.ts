import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controllerMetrics, createRegistry, PERPLEXITY_BUCKETS, type StepObservation } from '../src/index';

const step = (experiment: string, accuracies: number[]): StepObservation => ({
  experiment, rawRewards: accuracies.map((a) => 80 * a * a), accuracies, failedChildren: 0, rewardMovingAverage: NaN, baseline: NaN, stalenesses: [], droppedPushes: [],
});

/** The samples of `name` in a scrape, as `labels value` lines without the name. */
function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => l.slice(name.length));
}

test('an rnn step records perplexity = 1 / accuracy; a conv step and an experiment of unknown space do not', async () => {
  const registry = createRegistry('controller');
  const spaces: Record<string, string> = { lm: 'rnn', images: 'conv' };
  const c = controllerMetrics(registry, { spaceOf: (id) => spaces[id] });
  // Perplexities 4 and 2.5, and a diverged child (accuracy 0: no perplexity).
  c.stepCompleted(step('lm', [0.25, 0.4, 0]));
  c.stepCompleted(step('images', [0.25, 0.9]));
  c.stepCompleted(step('unknown', [0.5]));
  const body = await registry.metrics();

  assert.deepEqual(samples(body, 'nasrl_child_perplexity_count'), ['{experiment="lm"} 2']);
  assert.deepEqual(samples(body, 'nasrl_child_perplexity_sum'), ['{experiment="lm"} 6.5']);
  assert.ok(PERPLEXITY_BUCKETS.includes(2.5) && PERPLEXITY_BUCKETS.includes(4));
  assert.match(body, /^nasrl_child_perplexity_bucket\{le="2",experiment="lm"\} 0$/m);
  assert.match(body, /^nasrl_child_perplexity_bucket\{le="2.5",experiment="lm"\} 1$/m);
  assert.match(body, /^nasrl_child_perplexity_bucket\{le="4",experiment="lm"\} 2$/m);
  assert.match(body, /^nasrl_child_perplexity_bucket\{le="\+Inf",experiment="lm"\} 2$/m);
  // The best child is the most accurate: the lowest perplexity, 1 / 0.4.
  assert.deepEqual(samples(body, 'nasrl_best_perplexity'), ['{experiment="lm"} 2.5']);
  assert.match(body, /^nasrl_best_accuracy\{experiment="lm"\} 0.4$/m);
  // The other experiments keep their accuracy and record no perplexity.
  assert.match(body, /^nasrl_best_accuracy\{experiment="images"\} 0.9$/m);
  assert.match(body, /^nasrl_best_accuracy\{experiment="unknown"\} 0.5$/m);
  assert.match(body, /^# TYPE nasrl_child_perplexity histogram$/m);
  assert.match(body, /^# TYPE nasrl_best_perplexity gauge$/m);

  // A later, worse rnn step leaves the best perplexity; a better one lowers it.
  c.stepCompleted(step('lm', [0.3]));
  assert.deepEqual(samples(await registry.metrics(), 'nasrl_best_perplexity'), ['{experiment="lm"} 2.5']);
  c.stepCompleted(step('lm', [0.5]));
  const after = await registry.metrics();
  assert.deepEqual(samples(after, 'nasrl_best_perplexity'), ['{experiment="lm"} 2']);
  assert.deepEqual(samples(after, 'nasrl_child_perplexity_count'), ['{experiment="lm"} 4']);
});

test('without spaceOf no experiment records perplexity', async () => {
  const registry = createRegistry('controller');
  const c = controllerMetrics(registry);
  c.stepCompleted(step('lm', [0.25]));
  const body = await registry.metrics();
  assert.deepEqual(samples(body, 'nasrl_child_perplexity_count'), []);
  assert.deepEqual(samples(body, 'nasrl_best_perplexity'), []);
});
