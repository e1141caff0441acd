import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidJobError, childJobId, parseChildJob, parseChildResult, parseStepJob, stepJobId } from '../src';

const child = {
  experiment: 'e1', stepId: 'r0-1', index: 2, replica: 0, tokens: [1, 0, 3], layers: 1, archKey: 'a|b|c', arch: { tokens: ['a', 'b', 'c'] },
  parameterVersions: [4, 4],
};

test('a valid child job parses unchanged', () => {
  assert.deepEqual(parseChildJob(child), child);
});

const badChildren: [Record<string, unknown>, string][] = [
  [{ ...child, experiment: 'e:1' }, 'experiment'],
  [{ ...child, stepId: 'a.b' }, 'stepId'],
  [{ ...child, index: -1 }, 'index'],
  [{ ...child, tokens: [1, 'x'] }, 'tokens[1]'],
  [{ ...child, tokens: 'abc' }, 'tokens'],
  [{ ...child, layers: 0 }, 'layers'],
  [{ ...child, archKey: '' }, 'archKey'],
  [{ ...child, arch: undefined }, 'arch'],
  [{ ...child, parameterVersions: [1.5] }, 'parameterVersions[0]'],
  [{ ...child, extra: 1 }, 'extra'],
];
for (const [data, field] of badChildren) {
  test(`a child job with a bad ${field} names it`, () => {
    assert.throws(() => parseChildJob(data), (e: unknown) => e instanceof InvalidJobError && e.field === field && e.retryable === false && e.message.includes(field));
  });
}

test('step jobs and results are validated', () => {
  const step = { experiment: 'e1', stepId: 's1', replica: 1, layers: 6, samples: [{ tokens: [0, 1], logProb: -1.5, archKey: 'k' }], parameterVersions: [0] };
  assert.deepEqual(parseStepJob(step), step);
  assert.throws(() => parseStepJob({ ...step, samples: [] }), /samples: a step needs at least one sample/);
  assert.throws(() => parseStepJob({ ...step, samples: [{ tokens: [0], logProb: 0.5, archKey: 'k' }] }), /samples\[0\]\.logProb/);
  const result = { reward: 0.5, accuracy: 0.8, curve: [0.7, 0.8], seconds: 3, parameters: 1000, worker: 'w1', cached: false };
  assert.deepEqual(parseChildResult(result), result);
  assert.throws(() => parseChildResult({ ...result, reward: NaN }), /result\.reward/);
  const lm = { ...result, reward: 0.2, accuracy: 0.05, curve: [0.04, 0.05], perplexity: 20 };
  assert.deepEqual(parseChildResult(lm), lm, 'a language-model child carries its perplexity');
  assert.throws(() => parseChildResult({ ...lm, perplexity: 0.5 }), /result\.perplexity: expected a number ≥ 1/);
  assert.throws(() => parseChildResult({ ...lm, perplexity: null }), /result\.perplexity: expected a finite number/);
  assert.equal(stepJobId('e1', 's1'), 'e1.s1');
  assert.equal(childJobId('e1', 's1', 3), 'e1.s1.3');
  assert.throws(() => parseChildJob(null), /\(payload\): expected an object/);
});
