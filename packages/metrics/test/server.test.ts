import assert from 'node:assert/strict';
import * as http from 'node:http';
import { test } from 'node:test';
import { controllerMetrics, createRegistry, paramServerMetrics, startMetricsServer, workerMetrics } from '../src/index';
import { promtoolCheck } from '../src/testing';

/** GET of a path on host:port: status, content type and body. */
export function get(address: string, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}${path}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

/** Asserts that `name` has HELP and TYPE lines of `type` and at least one sample in a scrape. */
function assertMetric(body: string, name: string, type: string): void {
  assert.match(body, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name}: no HELP line`);
  assert.match(body, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name}: no TYPE ${type} line`);
  const sample = type === 'histogram' ? `${name}_bucket` : name;
  assert.match(body, new RegExp(`^${sample}(\\{[^}]*\\})? `, 'm'), `${name}: no sample`);
}

test('the server answers /metrics, /healthz, /readyz (200 and 503), 404, and closes', async () => {
  const registry = createRegistry('controller');
  const c = controllerMetrics(registry, {
    queueJobCounts: async () => ({ 'nasrl-children': { waiting: 3, active: 1 }, 'nasrl-steps': { 'waiting-children': 2 } }),
    outstandingReservations: async () => ({ e1: 2 }),
  });
  c.sampled('e1', [1.5, 2.5]);
  c.stepCompleted({ experiment: 'e1', rawRewards: [0.5, 0.7], accuracies: [0.5, 0.7], failedChildren: 1, rewardMovingAverage: 0.6, baseline: 0.3, stalenesses: [0, 3], droppedPushes: [{ shard: 1, reason: 'shard-behind' }] });
  let ready = false;
  const server = await startMetricsServer({ registry, host: '127.0.0.1', port: 0, ready: () => ready });
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  try {
    const m = await get(server.address, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ['nasrl_build_info', 'gauge'], ['nodejs_eventloop_lag_seconds', 'gauge'], ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'], ['nasrl_child_reward', 'histogram'], ['nasrl_reward_moving_average', 'gauge'],
      ['nasrl_baseline', 'gauge'], ['nasrl_best_accuracy', 'gauge'], ['nasrl_architectures_sampled_total', 'counter'],
      ['nasrl_architectures_evaluated_total', 'counter'], ['nasrl_controller_steps_total', 'counter'], ['nasrl_policy_entropy', 'gauge'],
      ['nasrl_gradient_staleness', 'histogram'], ['nasrl_queue_jobs', 'gauge'], ['nasrl_child_failures_total', 'counter'],
      ['nasrl_reservations_outstanding', 'gauge'], ['nasrl_step_pushes_dropped_total', 'counter'],
    ] as const) assertMetric(m.body, name, type);
    assert.match(m.body, /^nasrl_build_info\{service="controller"\} 1$/m);
    assert.match(m.body, /^nasrl_architectures_sampled_total\{experiment="e1"\} 2$/m);
    assert.match(m.body, /^nasrl_policy_entropy\{experiment="e1"\} 2$/m);
    assert.match(m.body, /^nasrl_best_accuracy\{experiment="e1"\} 0.7$/m);
    assert.match(m.body, /^nasrl_child_failures_total\{experiment="e1"\} 1$/m);
    assert.match(m.body, /^nasrl_step_pushes_dropped_total\{experiment="e1",shard="1",reason="shard-behind"\} 1$/m);
    assert.match(m.body, /^nasrl_queue_jobs\{queue="nasrl-children",state="waiting"\} 3$/m);
    assert.match(m.body, /^nasrl_queue_jobs\{queue="nasrl-steps",state="waiting-children"\} 2$/m);
    assert.match(m.body, /^nasrl_reservations_outstanding\{experiment="e1"\} 2$/m);
    assert.match(m.body, /^nasrl_child_reward_bucket\{le="100",experiment="e1"\} 2$/m);
    promtoolCheck(m.body);

    assert.deepEqual(await get(server.address, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.equal((await get(server.address, '/readyz')).status, 503);
    ready = true;
    assert.equal((await get(server.address, '/readyz')).status, 200);
    assert.equal((await get(server.address, '/nope')).status, 404);
  } finally {
    await server.close();
  }
  await server.close();
  await assert.rejects(get(server.address, '/healthz'), /ECONNREFUSED/);
});

test('readiness that throws is 503', async () => {
  const server = await startMetricsServer({ registry: createRegistry('x'), host: '127.0.0.1', port: 0, ready: async () => { throw new Error('down'); } });
  try {
    assert.equal((await get(server.address, '/readyz')).status, 503);
  } finally {
    await server.close();
  }
});

test('worker and parameter-server metrics', async () => {
  const registry = createRegistry('worker');
  let clock = 1_000_000;
  const w = workerMetrics(registry, () => clock);
  w.childStarted(1);
  clock += 2_500;
  w.childCompleted({ seconds: 90, cached: false, imagesPerSecond: 1234 });
  w.childStarted(2);
  clock += 500;
  w.childFailed('refused');
  w.childRecovered();
  const body = await registry.metrics();
  for (const [name, type] of [
    ['nasrl_child_training_seconds', 'histogram'], ['nasrl_worker_images_per_second', 'gauge'], ['nasrl_worker_busy', 'gauge'],
    ['nasrl_worker_busy_seconds_total', 'counter'], ['nasrl_children_completed_total', 'counter'], ['nasrl_child_failures_total', 'counter'],
    ['nasrl_child_retries_total', 'counter'],
  ] as const) assertMetric(body, name, type);
  assert.match(body, /^nasrl_worker_busy_seconds_total 3$/m);
  assert.match(body, /^nasrl_worker_busy 0$/m);
  assert.match(body, /^nasrl_worker_images_per_second 1234$/m);
  assert.match(body, /^nasrl_children_completed_total\{cached="false"\} 1$/m);
  assert.match(body, /^nasrl_child_failures_total\{reason="refused"\} 1$/m);
  assert.match(body, /^nasrl_child_retries_total 2$/m);
  assert.match(body, /^nasrl_child_training_seconds_bucket\{le="120"\} 1$/m);
  promtoolCheck(body);

  const ps = createRegistry('param-server');
  const stats = [{ experiment: 'e', version: 7, pushesApplied: 7, pushesAccumulated: 0, pushesDuplicate: 2, pushesRejectedStale: 1, pushesRejectedInvalid: 0 }];
  const p = paramServerMetrics(ps, { stats: () => stats }, { lastCheckpointAtMs: () => 10_000, now: () => 40_000 });
  p.pushStaleness('e', 3);
  p.pulled('e');
  const pb = await ps.metrics();
  for (const [name, type] of [
    ['nasrl_ps_pushes_total', 'counter'], ['nasrl_ps_parameter_version', 'gauge'], ['nasrl_ps_push_staleness', 'histogram'],
    ['nasrl_ps_checkpoint_age_seconds', 'gauge'], ['nasrl_ps_pulls_total', 'counter'],
  ] as const) assertMetric(pb, name, type);
  assert.match(pb, /^nasrl_ps_pushes_total\{experiment="e",outcome="applied"\} 7$/m);
  assert.match(pb, /^nasrl_ps_pushes_total\{experiment="e",outcome="rejected_stale"\} 1$/m);
  assert.match(pb, /^nasrl_ps_parameter_version\{experiment="e"\} 7$/m);
  assert.match(pb, /^nasrl_ps_checkpoint_age_seconds 30$/m);
  stats[0] = { ...stats[0]!, pushesApplied: 8, version: 8 };
  assert.match(await ps.metrics(), /^nasrl_ps_pushes_total\{experiment="e",outcome="applied"\} 8$/m);
  promtoolCheck(pb);
});

test('scrape-time readers reuse their answer for the cache period and keep the last one when a read fails', async () => {
  const registry = createRegistry('controller');
  let reads = 0;
  let failing = false;
  controllerMetrics(registry, {
    queueCacheMs: 50,
    outstandingReservations: async () => {
      reads++;
      if (failing) throw new Error('redis down');
      return { e1: reads };
    },
  });
  const value = async (): Promise<string> => /^nasrl_reservations_outstanding\{experiment="e1"\} (\d+)$/m.exec(await registry.metrics())?.[1] ?? 'none';
  assert.equal(await value(), '1');
  assert.equal(await value(), '1', 'cached within the period');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(await value(), '2');
  failing = true;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(await value(), '2', 'the last values survive a failed read');
  assert.equal(reads, 3);
});
