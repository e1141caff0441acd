import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  assignShards,
  InvalidRequestError,
  loadProtos,
  ParameterServerClient,
  ParameterServerServer,
  ShardCore,
  ShardRpcError,
  toWire,
  type NamedTensor,
} from '../src/index';
import { controllerTensors, tensor } from './helpers';

const S = 3;
const servers: ParameterServerServer[] = [];
let client: ParameterServerClient;
let exp = 0;
const nextExperiment = (): string => `grpc-test-${process.pid}-${++exp}`;

before(async () => {
  for (let i = 0; i < S; i++) {
    const shard = new ShardCore({ shardIndex: i, shardCount: S, staleness: { bound: 5, rule: 'inverse' } });
    servers.push(await ParameterServerServer.start({ shard, address: '127.0.0.1:0', shutdownGraceMs: 500 }));
  }
  client = new ParameterServerClient({ shards: servers.map((s) => s.address), deadlineMs: 5_000 });
});

after(async () => {
  client.close();
  await Promise.all(servers.map((s) => s.close()));
});

function gradientsLike(tensors: readonly NamedTensor[], f: (i: number) => number): NamedTensor[] {
  return tensors.map((t) => tensor(t.name, t.shape, f));
}

/** A raw Push call that bypasses the client's own checks, to see the server's answer. */
function rawPush(shard: number, experiment: string, stepId: string, gradients: { name: string; shape: number[]; data: Uint8Array }[]): Promise<grpc.ServiceError | null> {
  const method = loadProtos().parameterServer.Push;
  const c = new grpc.Client((servers[shard] as ParameterServerServer).address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    c.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize,
      { experiment, layout: { shardIndex: shard, shardCount: S }, replica: 'raw', stepId, baseVersion: 0, gradients },
      (err) => {
        c.close();
        resolve(err);
      });
  });
}

test('servers report the bound port; init, pull and push work across 3 shards', async () => {
  for (const s of servers) {
    assert.ok(s.port > 0);
    assert.equal(s.address, `127.0.0.1:${s.port}`);
  }
  const experiment = nextExperiment();
  const params = controllerTensors();
  const first = await client.init(experiment, params);
  assert.deepEqual(first.created, [true, true, true]);
  const second = await client.init(experiment, controllerTensors(35, 99));
  assert.deepEqual(second.created, [false, false, false]);

  const pulled = await client.pull(experiment);
  assert.deepEqual(pulled.versions, [0, 0, 0]);
  assert.deepEqual(pulled.tensors.map((t) => t.name), params.map((t) => t.name).sort());
  for (const t of pulled.tensors) assert.deepEqual(t.data, params.find((p) => p.name === t.name)?.data);
  // Each shard holds exactly what the sharding rule assigns to it.
  const stats = await client.stats(experiment);
  const assignment = assignShards(params, S);
  assert.deepEqual(stats.map((s) => s.experiments[0]?.parameterCount), assignment.sizes);

  const results = await client.push(experiment, 'step-1', 'replica-0', gradientsLike(params, () => 0.01), pulled.versions);
  assert.deepEqual(results.map((r) => r.status), ['applied', 'applied', 'applied']);
  assert.deepEqual(results.map((r) => r.version), [1, 1, 1]);
  const updated = await client.pull(experiment);
  assert.deepEqual(updated.versions, [1, 1, 1]);
  for (const t of updated.tensors) {
    const before0 = params.find((p) => p.name === t.name) as NamedTensor;
    // First Adam step moves every value by lr against the gradient's sign.
    t.data.forEach((x, i) => assert.ok(Math.abs(x - ((before0.data[i] as number) - 0.0006)) < 1e-6));
  }
});

test('a duplicate push is acknowledged and not applied again', async () => {
  const experiment = nextExperiment();
  const params = controllerTensors();
  await client.init(experiment, params);
  const { versions } = await client.pull(experiment);
  await client.push(experiment, 'step-x', 'replica-0', gradientsLike(params, () => 1), versions);
  const once = await client.pull(experiment);
  const again = await client.push(experiment, 'step-x', 'replica-1', gradientsLike(params, () => 1), versions);
  assert.deepEqual(again.map((r) => r.status), ['duplicate', 'duplicate', 'duplicate']);
  assert.deepEqual(await client.pull(experiment), once);
});

test('stale pushes are rejected per shard and reported as rejected-stale', async () => {
  const experiment = nextExperiment();
  const params = controllerTensors();
  await client.init(experiment, params);
  for (let i = 0; i < 6; i++) await client.push(experiment, `s${i}`, 'r', gradientsLike(params, () => 0.1), [i, i, i]);
  const r = await client.push(experiment, 'late', 'r', gradientsLike(params, () => 0.1), [0, 0, 0]);
  assert.deepEqual(r.map((x) => x.status), ['rejected-stale', 'rejected-stale', 'rejected-stale']);
  assert.equal(r[0]?.staleness, 6);
  assert.match(r[0]?.message ?? '', /exceeds the bound 5/);
  const ok = await client.push(experiment, 'recent', 'r', gradientsLike(params, () => 0.1), [3, 3, 3]);
  assert.deepEqual(ok.map((x) => [x.status, x.staleness, x.weight]), Array(3).fill(['applied', 3, 0.25]));
  const stats = await client.stats(experiment);
  assert.deepEqual(stats.map((s) => s.experiments[0]?.pushesRejectedStale), [1, 1, 1]);
});

test('wrong shape, wrong byte length and NaN get INVALID_ARGUMENT from the server, parameters untouched', async () => {
  const experiment = nextExperiment();
  const params = controllerTensors();
  await client.init(experiment, params);
  const before0 = await client.pull(experiment);
  const assignment = assignShards(params, S);
  const onShard0 = params.filter((p) => assignment.shardOf.get(p.name) === 0).map(toWire);
  const [firstT, ...rest] = onShard0;
  assert.ok(firstT);
  const cases: [string, typeof onShard0, RegExp][] = [
    ['shape', [{ ...firstT, shape: [...firstT.shape, 1] }, ...rest], /has shape .* expected/],
    ['bytes', [{ ...firstT, data: firstT.data.subarray(4) }, ...rest], /data has \d+ bytes but its shape needs/],
    ['nan', [toWire(tensor(firstT.name, firstT.shape, (i) => (i === 3 ? NaN : 0))), ...rest], /non-finite value \(NaN\) at index 3/],
    ['unknown', [...onShard0, toWire(tensor('nope', [1]))], /unknown tensor 'nope'/],
  ];
  for (const [what, gradients, message] of cases) {
    const err = await rawPush(0, experiment, `bad-${what}`, gradients);
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, what);
    assert.match(err?.details ?? '', message, what);
  }
  assert.deepEqual(await client.pull(experiment), before0);
  // The client refuses NaN and wrong shapes itself, before any shard can apply part of the step.
  await assert.rejects(
    client.push(experiment, 'c-nan', 'r', gradientsLike(params, () => NaN), before0.versions),
    (e: unknown) => e instanceof InvalidRequestError && /non-finite/.test(e.message),
  );
  const wrong = gradientsLike(params, () => 0.1);
  wrong[1] = tensor((wrong[1] as NamedTensor).name, [1, 1]);
  await assert.rejects(client.push(experiment, 'c-shape', 'r', wrong, before0.versions), /has shape \[1, 1\], expected/);
  assert.deepEqual(await client.pull(experiment), before0);
});

test('an unknown experiment gives NOT_FOUND naming it', async () => {
  await assert.rejects(client.pull('never-initialised'), (e: unknown) => {
    assert.ok(e instanceof ShardRpcError);
    assert.equal(e.code, grpc.status.NOT_FOUND);
    assert.equal(e.retryable, false);
    assert.match(e.message, /NOT_FOUND: experiment 'never-initialised' is not initialised on shard/);
    return true;
  });
});

test('a client with the wrong shard order is refused with FAILED_PRECONDITION', async () => {
  const swapped = new ParameterServerClient({ shards: [servers[1], servers[0], servers[2]].map((s) => (s as ParameterServerServer).address) });
  try {
    await assert.rejects(swapped.init(nextExperiment(), controllerTensors()), (e: unknown) => e instanceof ShardRpcError && e.code === grpc.status.FAILED_PRECONDITION && /check the order/.test(e.message));
  } finally {
    swapped.close();
  }
});

test('health: SERVING while up, and the client retries UNAVAILABLE until a shard comes up', async () => {
  const health = loadProtos().health.Check;
  const c = new grpc.Client((servers[0] as ParameterServerServer).address, grpc.credentials.createInsecure());
  const check = (service: string): Promise<{ status: string } | grpc.ServiceError> =>
    new Promise((resolve) => c.makeUnaryRequest(health.path, health.requestSerialize, health.responseDeserialize, { service }, (err, res) => resolve(err ?? (res as { status: string }))));
  assert.deepEqual(await check(''), { status: 'SERVING' });
  assert.deepEqual(await check('nasrl.ps.v1.ParameterServer'), { status: 'SERVING' });
  assert.equal(((await check('other')) as grpc.ServiceError).code, grpc.status.NOT_FOUND);
  c.close();

  // Take a free port, release it, and start a shard there only after the client has begun retrying.
  const probe = await ParameterServerServer.start({ shard: new ShardCore({ shardIndex: 0, shardCount: 1 }), address: '127.0.0.1:0' });
  const port = probe.port;
  await probe.close();
  const late = new ParameterServerClient({ shards: [`127.0.0.1:${port}`], retry: { maxAttempts: 20, initialBackoffMs: 20, maxBackoffMs: 100 } });
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  shard.init({ experiment: 'late', tensors: [toWire(tensor('w', [1], () => 4))] });
  let server: ParameterServerServer | null = null;
  const starting = new Promise<void>((resolve) =>
    setTimeout(() => {
      void ParameterServerServer.start({ shard, address: `127.0.0.1:${port}` }).then((s) => {
        server = s;
        resolve();
      });
    }, 200),
  );
  try {
    const r = await late.pull('late');
    assert.deepEqual([...(r.tensors[0]?.data ?? [])], [4]);
  } finally {
    await starting;
    late.close();
    await (server as ParameterServerServer | null)?.close();
  }
  // Without retries the same situation fails fast with a retryable error.
  const noRetry = new ParameterServerClient({ shards: [`127.0.0.1:${port}`], retry: { maxAttempts: 1 } });
  try {
    await assert.rejects(noRetry.pull('late'), (e: unknown) => e instanceof ShardRpcError && e.code === grpc.status.UNAVAILABLE && e.retryable);
  } finally {
    noRetry.close();
  }
});

test('close() is idempotent, tells health watchers NOT_SERVING, and a closed server refuses connections', async () => {
  const s = await ParameterServerServer.start({ shard: new ShardCore({ shardIndex: 0, shardCount: 1 }), address: '127.0.0.1:0' });
  const watch = loadProtos().health.Watch;
  const hc = new grpc.Client(s.address, grpc.credentials.createInsecure());
  const seen: string[] = [];
  const stream = hc.makeServerStreamRequest(watch.path, watch.requestSerialize, watch.responseDeserialize, { service: '' });
  stream.on('data', (m: { status: string }) => seen.push(m.status));
  const ended = new Promise<void>((resolve) => {
    stream.on('end', () => resolve());
    stream.on('error', () => resolve());
  });
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
  await Promise.all([s.close(), s.close()]);
  await ended;
  hc.close();
  assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
  await s.close();
  const c = new ParameterServerClient({ shards: [s.address], retry: { maxAttempts: 1 } });
  try {
    await assert.rejects(c.stats(), (e: unknown) => e instanceof ShardRpcError && e.code === grpc.status.UNAVAILABLE);
  } finally {
    c.close();
  }
});
