import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  adamStep,
  compileAdamOptions,
  decodeCheckpoint,
  decodeFloat32,
  encodeCheckpoint,
  InvalidRequestError,
  LayoutMismatchError,
  ShardClosedError,
  ShardCore,
  StaleGradientError,
  UnknownExperimentError,
  type ShardCoreOptions,
  type WireTensor,
} from '../src/index';
import { wire } from './helpers';

const EXP = 'exp-1';

function shardWith(o: Partial<ShardCoreOptions> = {}, init: WireTensor[] = [wire('w', [2], () => 1), wire('b', [], () => 0.5)]): ShardCore {
  const s = new ShardCore({ shardIndex: 0, shardCount: 1, ...o });
  s.init({ experiment: EXP, tensors: init });
  return s;
}

function values(s: ShardCore, name: string): number[] {
  const t = s.pull(EXP).tensors.find((x) => x.name === name);
  assert.ok(t, `no tensor ${name}`);
  return [...decodeFloat32(t.data, t.data.length / 4)];
}

function grad(stepId: string, baseVersion: number, w: number, b: number) {
  return { experiment: EXP, replica: 'r0', stepId, baseVersion, gradients: [wire('w', [2], () => w), wire('b', [], () => b)] };
}

function near(actual: number[], expected: number[], tol = 3e-7): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - (expected[i] as number)) <= tol, `[${i}] ${a} vs ${expected[i]}`));
}

test('Adam matches a hand-computed reference (lr 0.0006, β 0.9/0.999, ε 1e-8)', () => {
  // θ0 = 1; gradients 0.5, -1, 0.25. By hand (Kingma & Ba, Algorithm 1):
  //  t=1: m=0.05, v=0.00025, m̂=0.5, v̂=0.25 → θ = 1 - 0.0006·0.5/0.5 = 0.9994
  //  t=2: m=-0.055, v=0.00124975, m̂=-0.289474, v̂=0.625188 → θ = 0.9994 + 0.0006·0.289474/0.790688 = 0.99961966
  //  t=3: m=-0.0245, v=0.00131100025, m̂=-0.0901734, v̂=0.437437 → θ = 0.99970168
  const s = shardWith({}, [wire('w', [2], () => 1), wire('b', [], () => 1)]);
  const expected = [0.9994, 0.9996196621, 0.9997016765];
  [0.5, -1, 0.25].forEach((g, i) => {
    const r = s.push(grad(`s${i}`, i, g, g));
    assert.equal(r.outcome, 'applied');
    assert.equal(r.version, i + 1);
    near(values(s, 'w'), [expected[i] as number, expected[i] as number]);
  });
});

test('the default learning rate is the paper\'s 0.0006 and options are validated', () => {
  assert.equal(compileAdamOptions().learningRate, 0.0006);
  assert.throws(() => compileAdamOptions({ learningRate: -1 }), /learningRate/);
  assert.throws(() => compileAdamOptions({ beta2: 1 }), /beta2/);
  assert.throws(() => new ShardCore({ shardIndex: 2, shardCount: 2 }), /shardIndex must be an integer in \[0, 2\)/);
  assert.throws(() => new ShardCore({ shardIndex: 0, shardCount: 1, staleness: { bound: -1 } }), /staleness bound/);
});

test('init is idempotent: the first values win, a different parameter set is refused', () => {
  const s = new ShardCore({ shardIndex: 0, shardCount: 1 });
  assert.deepEqual(s.init({ experiment: EXP, tensors: [wire('w', [2], () => 1)] }), { created: true, version: 0 });
  assert.deepEqual(s.init({ experiment: EXP, tensors: [wire('w', [2], () => 7)] }), { created: false, version: 0 });
  assert.deepEqual(values(s, 'w'), [1, 1]);
  assert.throws(() => s.init({ experiment: EXP, tensors: [wire('w', [3])] }), (e: unknown) => e instanceof LayoutMismatchError && /shape \[3\], stored \[2\]/.test(e.message));
  assert.throws(() => s.init({ experiment: EXP, tensors: [wire('v', [2])] }), /tensor 'v' is new/);
  assert.throws(() => s.init({ experiment: 'e2', tensors: [wire('w', [1], () => NaN)] }), /non-finite/);
  assert.throws(() => s.init({ experiment: 'e2', tensors: [wire('w', [1]), wire('w', [1])] }), /appears twice/);
});

test('a repeated step id is acknowledged as duplicate and not applied again', () => {
  const s = shardWith();
  assert.equal(s.push(grad('step-a', 0, 1, 1)).outcome, 'applied');
  const after = values(s, 'w');
  const again = s.push(grad('step-a', 0, 1, 1));
  assert.equal(again.outcome, 'duplicate');
  assert.equal(again.version, 1);
  assert.deepEqual(values(s, 'w'), after);
  assert.equal(s.stats(EXP)[0]?.pushesDuplicate, 1);
});

test('staleness: above the bound is rejected and counted, below it down-weighted by 1/(1+s)', () => {
  const s = shardWith({ staleness: { bound: 2, rule: 'inverse' } });
  for (let i = 0; i < 3; i++) s.push(grad(`fresh-${i}`, i, 0.1, 0.1));
  const before = values(s, 'w');
  assert.throws(() => s.push(grad('old', 0, 1, 1)), (e: unknown) => {
    assert.ok(e instanceof StaleGradientError);
    assert.equal(e.staleness, 3);
    assert.match(e.message, /staleness 3 \(version 3 - base 0\) exceeds the bound 2/);
    return true;
  });
  assert.deepEqual(values(s, 'w'), before);
  assert.equal(s.stats(EXP)[0]?.pushesRejectedStale, 1);
  // Staleness 2: the gradient is scaled by 1/3 before the Adam step.
  const reference = shardWith({ staleness: { bound: 2, rule: 'inverse' } });
  for (let i = 0; i < 3; i++) reference.push(grad(`fresh-${i}`, i, 0.1, 0.1));
  const r = s.push(grad('slightly-old', 1, 0.9, 0.9));
  assert.equal(r.staleness, 2);
  assert.equal(r.weight, 1 / 3);
  reference.push(grad('scaled-by-hand', 3, 0.3, 0.3));
  near(values(s, 'w'), values(reference, 'w'), 1e-7);
  // A base version from the future (the shard restarted from an older checkpoint) is stale too.
  assert.throws(() => s.push(grad('future', 99, 1, 1)), /ahead of the shard's version 4: the shard restarted from an older checkpoint and lost at least 95 update/);
});

test('forgotten step ids cannot be re-applied: pushes older than the floor are refused', () => {
  const s = shardWith({ maxRememberedSteps: 2 });
  s.push(grad('a', 0, 1, 1));
  s.push(grad('b', 1, 1, 1));
  s.push(grad('c', 2, 1, 1)); // forgets 'a' (arrived at version 0)
  assert.equal(s.snapshot().experiments[0]?.steps.length, 2);
  assert.throws(() => s.push(grad('a', 0, 1, 1)), (e: unknown) => e instanceof StaleGradientError && /oldest version/.test(e.message));
  assert.equal(s.push(grad('b', 1, 1, 1)).outcome, 'duplicate');
});

test('accumulate mode applies the mean of k gradients as one update', () => {
  const s = shardWith({ accumulate: 3 });
  assert.equal(s.push(grad('a', 0, 1, 3)).outcome, 'accumulated');
  assert.equal(s.push(grad('b', 0, 2, 3)).outcome, 'accumulated');
  assert.deepEqual(values(s, 'w'), [1, 1]);
  assert.equal(s.stats(EXP)[0]?.pendingGradients, 2);
  const r = s.push(grad('c', 0, 6, 3));
  assert.equal(r.outcome, 'applied');
  assert.equal(r.version, 1);
  // Same as one Adam step with the mean gradient (1+2+6)/3 = 3.
  const p = new Float32Array([1, 1]);
  adamStep(p, new Float32Array(2), new Float32Array(2), new Float32Array([3, 3]), 1, compileAdamOptions());
  near(values(s, 'w'), [...p], 0);
  assert.equal(s.push(grad('b', 0, 2, 3)).outcome, 'duplicate');
});

test('malformed pushes are refused with messages naming the problem, parameters untouched', () => {
  const s = shardWith();
  const before = s.pull(EXP);
  const bad: [string, WireTensor[], RegExp][] = [
    ['unknown name', [wire('w', [2]), wire('b', []), wire('zz', [1])], /unknown tensor 'zz'; this shard holds 'b', 'w'/],
    ['wrong shape', [wire('w', [1, 2]), wire('b', [])], /tensor 'w' has shape \[1, 2\], expected \[2\]/],
    ['wrong bytes', [{ name: 'w', shape: [2], data: Buffer.alloc(7) }, wire('b', [])], /'w': data has 7 bytes but its shape needs 8/],
    ['NaN', [wire('w', [2], (i) => (i === 1 ? NaN : 0)), wire('b', [])], /tensor 'w' has a non-finite value \(NaN\) at index 1/],
    ['Inf', [wire('w', [2]), wire('b', [], () => -Infinity)], /tensor 'b' has a non-finite value \(-Infinity\) at index 0/],
    ['missing', [wire('w', [2])], /missing gradients for 'b'/],
    ['twice', [wire('w', [2]), wire('w', [2]), wire('b', [])], /'w' appears twice/],
  ];
  for (const [what, gradients, message] of bad) {
    assert.throws(() => s.push({ experiment: EXP, replica: 'r', stepId: what, baseVersion: 0, gradients }), (e: unknown) => {
      assert.ok(e instanceof InvalidRequestError, what);
      assert.match(e.message, message, what);
      return true;
    });
  }
  assert.throws(() => s.push({ ...grad('', 0, 1, 1) }), /step id must be a non-empty string/);
  assert.deepEqual(s.pull(EXP), before);
  assert.equal(s.stats(EXP)[0]?.pushesRejectedInvalid, bad.length + 1);
  // The rejected step ids were not remembered: the same id with a good gradient applies.
  assert.equal(s.push(grad('NaN', 0, 1, 1)).outcome, 'applied');
  assert.throws(() => s.pull('nope'), (e: unknown) => e instanceof UnknownExperimentError && /'nope' is not initialised on shard 0/.test(e.message));
  assert.throws(() => s.push({ ...grad('x', 0, 1, 1), experiment: 'nope' }), UnknownExperimentError);
});

test('a request for another shard layout is refused; a closed shard refuses everything', () => {
  const s = shardWith();
  assert.throws(() => s.pull(EXP, { shardIndex: 1, shardCount: 2 }), (e: unknown) => e instanceof LayoutMismatchError && /shard 1 of 2 reached shard 0 of 1/.test(e.message));
  assert.equal(s.pull(EXP, { shardIndex: 0, shardCount: 0 }).version, 0);
  s.close();
  assert.throws(() => s.pull(EXP), ShardClosedError);
});

test('a snapshot survives encode/decode and restores versions, moments, accumulator and step ids', () => {
  const s = shardWith({ accumulate: 2 });
  s.push(grad('a', 0, 1, 1));
  s.push(grad('b', 0, 2, 2));
  s.push(grad('c', 1, 3, 3)); // pending in the accumulator
  const bytes = encodeCheckpoint(s.snapshot(), 7);
  const decoded = decodeCheckpoint(bytes, 'mem');
  assert.equal(decoded.sequence, 7);
  const t = new ShardCore({ shardIndex: 0, shardCount: 1, accumulate: 2 });
  t.restore(decoded.snapshot);
  assert.deepEqual(t.pull(EXP), s.pull(EXP));
  assert.deepEqual(t.stats(), s.stats().map((x) => ({ ...x, checkpointedVersion: 1 })));
  assert.equal(t.push(grad('b', 0, 2, 2)).outcome, 'duplicate');
  // Both shards now apply the same pending + new gradient identically.
  s.push(grad('d', 1, 4, 4));
  t.push(grad('d', 1, 4, 4));
  assert.deepEqual(t.pull(EXP), s.pull(EXP));
  assert.throws(() => new ShardCore({ shardIndex: 0, shardCount: 2 }).restore(decoded.snapshot), /resharding is not supported/);
});

test('a push answers before its Adam step, and nothing can observe the version without the update', async () => {
  const s = shardWith();
  const r = s.push(grad('d1', 0, 1, 1));
  assert.equal(r.version, 1);
  // A pull right away applies the pending step first.
  near(values(s, 'w'), [1 - 0.0006, 1 - 0.0006]);
  // Without any call, the step is applied a moment later (after the reply's trailers have gone out).
  const t = shardWith();
  t.push(grad('d2', 0, -1, 1));
  assert.equal(t.hasPendingStep, true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(t.hasPendingStep, false);
  const snap = t.snapshot();
  const w = snap.experiments[0]?.tensors.find((x) => x.name === 'w');
  assert.ok(w);
  near([...w.params], [1 + 0.0006, 1 + 0.0006]);
  // A second push right after the first applies the first step before decoding into the shared buffers.
  const u = shardWith();
  u.push(grad('d3', 0, 1, 0));
  u.push(grad('d4', 1, 1, 0));
  near(values(u, 'w'), [1 - 2 * 0.0006, 1 - 2 * 0.0006], 1e-6);
});
