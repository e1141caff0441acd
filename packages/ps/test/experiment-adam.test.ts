import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Checkpointer,
  CheckpointStore,
  InvalidRequestError,
  ParameterServerClient,
  ParameterServerConfigError,
  ParameterServerServer,
  ShardCore,
  ShardRpcError,
  fromWire,
  type NamedTensor,
  type WireTensor,
} from '../src/index';
import { collectingLogger, controllerTensors, tempDir, tensor, wire } from './helpers';

const S = 2;

/** S real gRPC shards with the default Adam settings (learning rate 0.0006), each checkpointing to its folder. */
async function startShards(dir: string): Promise<{ client: ParameterServerClient; close: () => Promise<void> }> {
  const servers: ParameterServerServer[] = [];
  const checkpointers: Checkpointer[] = [];
  for (let i = 0; i < S; i++) {
    const shard = new ShardCore({ shardIndex: i, shardCount: S });
    const cp = new Checkpointer(shard, new CheckpointStore({ dir, shardIndex: i, log: collectingLogger().log }), { everyUpdates: 1, intervalMs: 0, log: collectingLogger().log });
    await cp.restore();
    cp.start();
    checkpointers.push(cp);
    servers.push(await ParameterServerServer.start({ shard, address: '127.0.0.1:0', shutdownGraceMs: 500 }));
  }
  const client = new ParameterServerClient({ shards: servers.map((s) => s.address), deadlineMs: 5_000 });
  return {
    client,
    close: async () => {
      client.close();
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(checkpointers.map((c) => c.close()));
    },
  };
}

const ones = (ts: readonly NamedTensor[]): NamedTensor[] => ts.map((t) => tensor(t.name, t.shape, () => 1));

/** The largest |after − (before − shift)| over every value: 0 when every value moved by exactly `shift`. */
function offBy(before: readonly NamedTensor[], after: readonly NamedTensor[], shift: number): number {
  let worst = 0;
  for (const t of after) {
    const b = before.find((p) => p.name === t.name) as NamedTensor;
    t.data.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - ((b.data[i] as number) - shift)))));
  }
  return worst;
}

test('an experiment\'s Adam settings travel with Init, apply to its pushes on every shard and survive a restart from checkpoints', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const params = controllerTensors(8);
    let cluster = await startShards(dir);
    await cluster.client.init('fast', params, { learningRate: 0.05 });
    await cluster.client.init('plain', params);
    for (const e of ['fast', 'plain']) await cluster.client.push(e, 's1', 'r0', ones(params), [0, 0]);
    // With a constant gradient every Adam step moves each value by the learning rate (m̂ = 1, v̂ = 1).
    const fast1 = (await cluster.client.pull('fast')).tensors;
    assert.ok(offBy(params, fast1, 0.05) < 1e-6, `moved by the experiment's 0.05 (off by ${offBy(params, fast1, 0.05)})`);
    assert.ok(offBy(params, (await cluster.client.pull('plain')).tensors, 0.0006) < 1e-6, 'without settings, the shard\'s own');
    const stats = await cluster.client.stats('fast');
    assert.deepEqual(stats.map((s) => s.experiments[0]?.adam?.learningRate), [0.05, 0.05]);
    assert.deepEqual(stats.map((s) => s.experiments[0]?.adam?.beta1), [0.9, 0.9]);

    // Replicas of the same experiment state the same settings; other settings are refused, naming both.
    await cluster.client.init('fast', params, { learningRate: 0.05 });
    await assert.rejects(cluster.client.init('fast', params, { learningRate: 0.01 }), (e: unknown) =>
      e instanceof ShardRpcError && e.codeName === 'FAILED_PRECONDITION' && /learningRate 0\.05.*learningRate 0\.01/.test(e.message));
    await assert.rejects(cluster.client.init('bad', params, { learningRate: -1 }), ParameterServerConfigError);

    // Restarted shards (default settings again) restore the experiment's settings from their checkpoints.
    await cluster.close();
    cluster = await startShards(dir);
    const restored = (await cluster.client.pull('fast')).tensors;
    assert.deepEqual(restored, fast1);
    await cluster.client.push('fast', 's2', 'r0', ones(params), [1, 1]);
    const fast2 = (await cluster.client.pull('fast')).tensors;
    assert.ok(offBy(params, fast2, 0.1) < 1e-6, `the second step after the restart moved by 0.05 again (off by ${offBy(params, fast2, 0.1)})`);
    await cluster.close();
  } finally {
    cleanup();
  }
});

test('a shard refuses malformed Adam settings in an Init, and one created without settings takes the first stated ones', () => {
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  assert.throws(() => shard.init({ experiment: 'e', tensors: [wire('w', [2])], adam: { learningRate: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } }),
    (e: unknown) => e instanceof InvalidRequestError && /Adam settings: learningRate must be a positive number, got 0/.test(e.message));
  shard.init({ experiment: 'old', tensors: [wire('w', [2], () => 1)] });
  assert.equal(shard.stats('old')[0]?.adam.learningRate, 0.0006);
  shard.init({ experiment: 'old', tensors: [wire('w', [2])], adam: { learningRate: 0.2 } });
  assert.equal(shard.stats('old')[0]?.adam.learningRate, 0.2);
  shard.push({ experiment: 'old', replica: 'r', stepId: 'a', baseVersion: 0, gradients: [wire('w', [2], () => 1)] });
  const moved = fromWire(shard.pull('old').tensors[0] as WireTensor).data;
  assert.ok([...moved].every((x) => Math.abs(x - (1 - 0.2)) < 1e-6), `the push used the stated 0.2: ${[...moved]}`);
});
