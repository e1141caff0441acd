/**
 * One worker process per GPU (CUDA_VISIBLE_DEVICES picks it): a BullMQ worker on the children queue with
 * concurrency 1, whose evaluations run in a sandboxed processor (processor.ts). With NASRL_WORKER_CHILDREN=N > 1
 * it evaluates N simulated (table) children at once in this process instead, with one loaded table and one
 * set of Redis connections: a cluster of hundreds of virtual workers in a few processes. Reads NASRL_WORKER_* once,
 * prints `{"event":"ready",...}` once it takes jobs, and on SIGINT/SIGTERM stops taking jobs, cancels the active
 * child (its job goes back to wait for another worker) and exits, within NASRL_WORKER_SHUTDOWN_GRACE_MS. A child
 * whose experiment is stopped (`nasrl stop`) or whose job is removed is cancelled too (CANCEL_REASONS). Serves /metrics, /healthz and /readyz over HTTP
 * (NASRL_WORKER_METRICS_*; its address in a `{"event":"metrics_listening",...}` line); ready while connected to
 * Redis and taking jobs. Exit codes: 0 after a shutdown, 2 for bad
 * configuration, 1 for any other failure.
 */
import * as path from 'node:path';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { CHILDREN_QUEUE, connectRedis, ExperimentStore, type ChildJob, type ChildResult } from '@nasrl/queue';
import { createRegistry, startMetricsServer, workerMetrics, type MetricsServer } from '@nasrl/metrics';
import { parseWorkerEnv, WorkerConfigError, type WorkerConfig } from './config';
import { jsonLogger } from './log';
import { CANCEL_REASONS, type CancelReason } from './cancel';
import { ChildProcessor, simulatedEvaluators } from './child-processor';
import { childJobHandler } from './job-handler';

async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = parseWorkerEnv(process.env);
  } catch (e) {
    return fail(e, 2);
  }
  const log = jsonLogger(config.workerId);
  const connection = connectRedis(config.redisUrl, { name: config.workerId });
  connection.on('error', (e: Error) => log({ event: 'redis_error', level: 'warn', message: e.message }));
  const store = new ExperimentStore(connection);
  // One child: a sandbox, so that training never delays lock renewal. Several: simulated children, which
  // only sleep, in this process (a sandbox each would load the table once per child).
  const processor = config.children === 1
    ? path.join(__dirname, 'processor.js')
    : childJobHandler(new ChildProcessor(store, config.workerId, simulatedEvaluators(config.workerId, config.children)), log);
  const worker = new Worker<ChildJob, ChildResult>(CHILDREN_QUEUE, processor, {
    connection,
    prefix: config.queuePrefix,
    name: config.workerId,
    concurrency: config.children,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
    useWorkerThreads: false,
    // The sandbox reads the same environment; it must report this process's id, not its own pid.
    workerForkOptions: { env: { ...process.env, NASRL_WORKER_ID: config.workerId } },
    autorun: false,
  });
  const registry = createRegistry('worker');
  const metrics = workerMetrics(registry);
  // The active children, watched for their experiment being stopped or their job removed; a trained child's
  // throughput comes in its last progress report (ChildResult has no field for it).
  const active = new Map<string, { experiment: string; imagesPerSecond?: number }>();
  const cancel = (id: string, reason: CancelReason): void => {
    if (worker.cancelJob(id, reason)) log({ event: 'cancelling', level: 'warn', job: id, reason });
  };
  const watch = setInterval(() => {
    if (active.size === 0 || closing !== null) return;
    void watchActive(connection, store, config.queuePrefix, active, cancel).catch(() => undefined); // Redis away: looked at again on the next tick.
  }, config.cancelCheckMs);
  watch.unref();
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) cancel(id, CANCEL_REASONS.lockLost);
  });
  worker.on('active', (job) => {
    if (job.id !== undefined) active.set(job.id, { experiment: String((job.data as { experiment?: unknown }).experiment) });
    // A child recovered from a dead worker is started again with attemptsStarted > 1, so this counts it too.
    metrics.childStarted(job.attemptsStarted);
    log({ event: 'active', job: job.id, attempt: job.attemptsStarted });
  });
  worker.on('progress', (job, progress) => {
    const ips = typeof progress === 'object' && progress !== null ? (progress as { imagesPerSecond?: unknown }).imagesPerSecond : undefined;
    const entry = job.id === undefined ? undefined : active.get(job.id);
    if (entry !== undefined && typeof ips === 'number') entry.imagesPerSecond = ips;
  });
  worker.on('completed', (job, r) => {
    const imagesPerSecond = job.id === undefined ? undefined : active.get(job.id)?.imagesPerSecond;
    if (job.id !== undefined) active.delete(job.id);
    metrics.childCompleted({ seconds: r.seconds, cached: r.cached, ...(imagesPerSecond === undefined ? {} : { imagesPerSecond }) });
    log({ event: 'completed', job: job.id, reward: r.reward, seconds: r.seconds, cached: r.cached });
  });
  worker.on('failed', (job, err) => {
    if (job?.id !== undefined) active.delete(job.id);
    // The sandbox turns non-retryable failures (refused architectures, invalid jobs) into UnrecoverableError.
    metrics.childFailed(err.name === 'UnrecoverableError' ? 'refused' : 'error');
    log({
      event: 'failed', level: 'warn', job: job?.id, reason: err.message, attemptsMade: job?.attemptsMade,
      final: job === undefined || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1),
    });
  });
  worker.on('stalled', (jobId) => log({ event: 'stalled', level: 'warn', job: jobId, message: 'a dead worker\'s job was moved back to wait' }));
  worker.on('error', (e) => log({ event: 'worker_error', level: 'warn', message: e.message }));

  let closing: Promise<void> | null = null;
  let taking = false;
  let metricsServer: MetricsServer | null = null;
  try {
    metricsServer = await startMetricsServer({
      registry, host: config.metricsHost, port: config.metricsPort,
      ready: () => taking && closing === null && connection.status === 'ready' && worker.isRunning() && !worker.isPaused(),
    });
    log({ event: 'metrics_listening', address: metricsServer.address });
  } catch (e) {
    // Metrics are an aid: a taken port (several workers on one host with the default) must not stop the worker.
    log({ event: 'metrics_unavailable', level: 'warn', message: `${(e as Error).message}; set NASRL_WORKER_METRICS_PORT (0 picks a free port)` });
  }

  const close = (signal: string): Promise<void> =>
    (closing ??= (async () => {
      log({ event: 'closing', signal, graceMs: config.shutdownGraceMs });
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), config.shutdownGraceMs)));
      clearInterval(watch);
      // The active child stops within seconds (an epoch's batch, a table child's sleep) and its job goes back to wait.
      worker.cancelAllJobs(CANCEL_REASONS.shutdown);
      const outcome = await Promise.race([worker.close().then(() => 'closed' as const), grace]);
      clearTimeout(timer);
      if (outcome === 'expired') log({ event: 'grace_expired', level: 'warn', message: 'exiting with a child still active; it is retried elsewhere once its lock expires' });
      connection.disconnect();
      await metricsServer?.close();
      log({ event: 'closed' });
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      close(signal).then(
        () => process.exit(0),
        (e: unknown) => fail(e, 1),
      );
    });
  }
  try {
    await worker.waitUntilReady();
  } catch (e) {
    return fail(e, 1);
  }
  void worker.run().catch((e: unknown) => fail(e, 1));
  taking = true;
  log({ event: 'ready', queue: CHILDREN_QUEUE, prefix: config.queuePrefix, children: config.children, lockDurationMs: config.lockDurationMs, redis: redactUrl(config.redisUrl) });
}

/**
 * Cancels the active children whose experiment was stopped or whose job was removed. One read per
 * experiment and one EXISTS over every active job per tick, whatever the number of children; the jobs are
 * looked at one by one only when some are gone.
 */
async function watchActive(
  connection: Redis, store: ExperimentStore, prefix: string, active: ReadonlyMap<string, { experiment: string }>, cancel: (id: string, reason: CancelReason) => void,
): Promise<void> {
  const jobs = [...active.entries()];
  const experiments = [...new Set(jobs.map(([, j]) => j.experiment))];
  const stopped = new Set<string>();
  for (const experiment of experiments) if (await store.isStopped(experiment)) stopped.add(experiment);
  for (const [id, j] of jobs) if (stopped.has(j.experiment)) cancel(id, CANCEL_REASONS.stopped);
  const watched = jobs.filter(([, j]) => !stopped.has(j.experiment)).map(([id]) => id);
  if (watched.length === 0) return;
  const key = (id: string): string => `${prefix}:${CHILDREN_QUEUE}:${id}`;
  if ((await connection.exists(...watched.map(key))) === watched.length) return;
  for (const id of watched) if ((await connection.exists(key(id))) === 0) cancel(id, CANCEL_REASONS.removed);
}

/** The Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.toString();
}

function fail(e: unknown, code: number): void {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`worker: ${e instanceof WorkerConfigError ? 'configuration error' : 'failed'}: ${message}\n`);
  process.exit(code);
}

void main();
