import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, type NamedTensor } from '@nasrl/controller';
import { parseExperimentConfig, type ParentJobLike } from '@nasrl/queue';
import type { ParameterServerClient, ShardPushResult } from '@nasrl/ps';
import { redisFixture } from './helpers';
import { createStepProcessor, decodeStepParameters, encodeStepParameters, experimentRuntime, StepParametersFormatError } from '../src/index';

const fx = redisFixture();

const tensors = (f: (i: number) => number): NamedTensor[] => [
  { name: 'a', shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => f(i)) },
  { name: 'b', shape: [], data: Float32Array.from([f(6)]) },
  { name: 'c', shape: [0, 4], data: new Float32Array(0) },
];

test('step parameters round-trip bit for bit; a damaged record is refused naming the problem', () => {
  const p = { versions: [3, 7], tensors: tensors((i) => Math.fround(Math.sin(i) * 1e-3) + (i === 2 ? -0 : 0)) };
  const blob = encodeStepParameters(p);
  const back = decodeStepParameters(blob);
  assert.deepEqual(back.versions, [3, 7]);
  assert.deepEqual(back.tensors.map((t) => [t.name, t.shape]), p.tensors.map((t) => [t.name, t.shape]));
  back.tensors.forEach((t, i) => assert.deepEqual(new Uint8Array(t.data.buffer), new Uint8Array((p.tensors[i] as NamedTensor).data.buffer)));
  const damaged: [Buffer, RegExp][] = [
    [Buffer.from('nope'), /does not start with NSP1/],
    [Buffer.concat([blob.subarray(0, 4), Buffer.from([255, 255, 0, 0])]), /header of 65535 bytes runs past the end/],
    [blob.subarray(0, blob.length - 4), /tensor 'b' needs 4 bytes, 0 are left/],
    [Buffer.concat([blob, Buffer.alloc(4)]), /4 bytes left over/],
  ];
  const header = Buffer.from('{"versions":[-1],"tensors":[]}');
  const prefix = Buffer.from('NSP1\0\0\0\0');
  prefix.writeUInt32LE(header.length, 4);
  damaged.push([Buffer.concat([prefix, header]), /versions must be non-negative integers/]);
  for (const [bytes, message] of damaged) {
    assert.throws(() => decodeStepParameters(bytes), (e: unknown) => e instanceof StepParametersFormatError && message.test(e.message), String(message));
  }
});

test('the first parameters stored for a step win; later writers get them back; dropping forgets them', async () => {
  const first = encodeStepParameters({ versions: [1], tensors: tensors(() => 1) });
  const second = encodeStepParameters({ versions: [2], tensors: tensors(() => 2) });
  assert.equal(await fx.store.saveStepParameters('sp', 'r0-s1', first, 60), first);
  assert.deepEqual(await fx.store.saveStepParameters('sp', 'r0-s1', second, 60), first);
  assert.deepEqual(await fx.store.stepParameters('sp', 'r0-s1'), first);
  assert.ok((await fx.redis.ttl('nasrl:exp:{sp}:step-params:r0-s1')) > 0, 'kept for a limited time only');
  await fx.store.dropStepParameters('sp', 'r0-s1');
  assert.equal(await fx.store.stepParameters('sp', 'r0-s1'), null);
});

test('the step processor computes the gradient at the parameters the step sampled from', async () => {
  const config = await fx.store.create(parseExperimentConfig({ id: 'grad-at-sampling', space: 'nb201', tablePath: '/unused.csv', rewardScale: 1 }));
  const runtime = experimentRuntime(config);
  const { policy } = runtime;
  const atSampling = policy.parameters();
  const samples = policy.sample(3, new Rng(5));
  // The shards have moved on since: the current parameters differ from those the step sampled from.
  const current = atSampling.map((t) => ({ ...t, data: t.data.map((x, i) => x + 0.05 * Math.cos(i)) }));
  const pushed: NamedTensor[][] = [];
  const params = {
    pull: async () => ({ tensors: current, versions: [9] }),
    push: async (_e: string, _s: string, _r: string, g: NamedTensor[]): Promise<ShardPushResult[]> => {
      pushed.push(g);
      return [{ shard: 0, status: 'applied', version: 10, staleness: 2, weight: 1 }];
    },
  } as unknown as ParameterServerClient;
  const rewards = [0.2, 0.9, 0.5];
  const job = (stepId: string): ParentJobLike => ({
    data: { experiment: config.id, stepId, replica: 0, layers: 1, samples: samples.map((s) => ({ tokens: s.tokens, logProb: s.logProb, archKey: `k${s.tokens.join('')}` })), parameterVersions: [7] },
    getChildrenValues: async () => Object.fromEntries(rewards.map((r, i) => [`bull:nasrl-children:${config.id}.${stepId}.${i}`, { reward: r, accuracy: r, curve: [r], seconds: 0, parameters: 0, worker: 'w', cached: false }])),
    getIgnoredChildrenFailures: async () => ({}),
  });
  const expectedAt = (theta: NamedTensor[], baseline: number): NamedTensor[] => {
    policy.setParameters(theta);
    return policy.gradient(rewards.map((r, i) => ({ tokens: (samples[i] as { tokens: number[] }).tokens, advantage: r - baseline })), undefined, config.entropyWeight).gradients;
  };
  // The baselines, worked by hand rather than taken from the step summary (SPEC: an EMA with decay 0.95 whose
  // first value is the first reward; the very first step subtracts its batch mean instead, baselineFor).
  assert.equal(config.baselineDecay, 0.95);
  assert.equal(config.rewardPower, 1);
  const firstBaseline = (0.2 + 0.9 + 0.5) / 3; // no reward seen yet: the batch mean
  const secondBaseline = 0.95 * (0.95 * 0.2 + 0.05 * 0.9) + 0.05 * 0.5; // the EMA after step 1: 0.2 → 0.235 → 0.24825
  const close = (got: readonly NamedTensor[], want: readonly NamedTensor[], what: string): void => {
    got.forEach((g, i) => {
      const w = (want[i] as NamedTensor).data;
      g.data.forEach((x, k) => assert.ok(Math.abs(x - (w[k] as number)) <= 1e-6 * (1 + Math.abs(w[k] as number)), `${what}: ${g.name}[${k}] is ${x}, expected ${w[k]}`));
    });
  };
  const distance = (a: readonly NamedTensor[], b: readonly NamedTensor[]): number =>
    a.reduce((s, t, i) => s + t.data.reduce((u, x, k) => u + Math.abs(x - ((b[i] as NamedTensor).data[k] as number)), 0), 0);
  const process = createStepProcessor({ store: fx.store, params, runtime: async () => runtime });

  await fx.store.saveStepParameters(config.id, 'r0-s1', encodeStepParameters({ versions: [7], tensors: atSampling }), 60);
  const first = await process(job('r0-s1'));
  assert.equal(first.parametersFrom, 'sampling');
  assert.equal(await fx.store.stepParameters(config.id, 'r0-s1'), null, 'dropped once applied');
  assert.ok(Math.abs(first.baseline - firstBaseline) < 1e-12, `step 1 subtracts the batch mean ${firstBaseline}, got ${first.baseline}`);
  const got = pushed[0] as NamedTensor[];
  close(got, expectedAt(atSampling, firstBaseline), 'step 1');
  assert.ok(distance(got, expectedAt(current, firstBaseline)) > 1e-4, 'the gradient at the current parameters would have been different');
  // A wrong baseline (the EMA after this step, or none) would have given another gradient.
  assert.ok(distance(got, expectedAt(atSampling, secondBaseline)) > 1e-4 && distance(got, expectedAt(atSampling, 0)) > 1e-4, 'the baseline changes the gradient');

  // Parameters that cannot be read are reported, and the step still completes with the current ones.
  await fx.redis.set('nasrl:exp:{grad-at-sampling}:step-params:r0-s2', 'garbage');
  const second = await process(job('r0-s2'));
  assert.equal(second.parametersFrom, 'current');
  assert.match(second.parametersError ?? '', /does not start with NSP1/);
  assert.ok(Math.abs(second.baseline - secondBaseline) < 1e-12, `step 2 subtracts the EMA ${secondBaseline} of step 1's rewards, got ${second.baseline}`);
  close(pushed[1] as NamedTensor[], expectedAt(current, secondBaseline), 'step 2');
  assert.ok(distance(pushed[1] as NamedTensor[], expectedAt(current, firstBaseline)) > 1e-4, 'step 2 with step 1\'s baseline would have been different');
});
