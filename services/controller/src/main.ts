import { setMaxListeners } from 'node:events';
import { FlowProducer, Queue, QueueEvents, Worker, type JobType } from 'bullmq';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ControllerReplica, createStepProcessor, experimentRuntime, initOnce, runtimeCache } from '@nasrl/cluster';
import { CHILDREN_QUEUE, connectRedis, ExperimentNotFoundError, ExperimentStore, parseExperimentConfig, STEPS_QUEUE } from '@nasrl/queue';
import { controllerMetrics, createRegistry, QUEUE_STATES, startMetricsServer, type MetricsServer, type QueueJobCounts } from '@nasrl/metrics';
import { ParameterServerClient } from '@nasrl/ps';
import { ControllerConfigError, parseControllerEnv } from './config';

// One controller process: the loop of its replica, or of each of its replicas (NASRL_CONTROLLER_REPLICAS), and a
// step processor (any replica completes any step) with a few slots.
// Serves /metrics, /healthz and /readyz (NASRL_CONTROLLER_METRICS_*; its address in a "metrics_listening" line);
// ready while connected to Redis with the experiment loaded.
function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), service: 'controller', event, ...fields })}\n`);
}

/**
 * Steps a process completes at once, whatever the number of replicas it hosts. A step's work is mostly CPU
 * (the gradient) in this one thread: a step taken while others wait for the CPU holds its lock without
 * progress, and on a busy machine loses it (BullMQ then fails the step as stalled). A step left waiting is
 * safe: any replica's processor takes it.
 */
const STEP_SLOTS = 4;

async function main(): Promise<void> {
  let config;
  try {
    config = parseControllerEnv(process.env);
  } catch (err) {
    if (err instanceof ControllerConfigError) {
      console.error(`controller: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const connection = connectRedis(config.redisUrl, { name: `nasrl-controller-${config.replica}${config.replicas.length > 1 ? `-${config.replicas.at(-1)}` : ''}` });
  const registry = createRegistry('controller');
  const store = new ExperimentStore(connection);
  // Set once the queues exist; until then nasrl_queue_jobs has no samples.
  let queues: { children: Queue; steps: Queue } | null = null;
  // The space of each experiment this process has loaded: rnn experiments also report perplexity.
  const spaces = new Map<string, string>();
  const metrics = controllerMetrics(registry, {
    spaceOf: (id) => spaces.get(id),
    queueJobCounts: async (): Promise<QueueJobCounts> => {
      if (!queues) return {};
      const states = QUEUE_STATES as JobType[];
      const [children, steps] = await Promise.all([queues.children.getJobCounts(...states), queues.steps.getJobCounts(...states)]);
      return { [CHILDREN_QUEUE]: children, [STEPS_QUEUE]: steps };
    },
    outstandingReservations: async () => ({ [config.experiment]: (await store.outstandingReservations(config.experiment)).length }),
  });
  let loaded = false;
  let closing: Promise<void> | undefined;
  let metricsServer: MetricsServer | null = null;
  try {
    metricsServer = await startMetricsServer({
      registry, host: config.metricsHost, port: config.metricsPort,
      ready: () => loaded && closing === undefined && connection.status === 'ready',
    });
    log('metrics_listening', { address: metricsServer.address });
  } catch (err) {
    // Metrics are an aid: a taken port (several replicas on one host with the default) must not stop the replica.
    log('metrics_unavailable', { level: 'warn', message: `${(err as Error).message}; set NASRL_CONTROLLER_METRICS_PORT (0 picks a free port)` });
  }
  if (config.experimentConfig !== null) {
    const parsed = parseExperimentConfig(config.experimentConfig);
    if (parsed.id !== config.experiment) throw new ControllerConfigError(`NASRL_CONTROLLER_EXPERIMENT_CONFIG: id "${parsed.id}" differs from NASRL_CONTROLLER_EXPERIMENT "${config.experiment}"`);
    await store.create(parsed);
  }
  let experiment;
  try {
    experiment = await store.get(config.experiment);
  } catch (err) {
    if (err instanceof ExperimentNotFoundError) {
      console.error(`controller: ${err.message}; create it first (nasrl local does, or set NASRL_CONTROLLER_EXPERIMENT_CONFIG)`);
      process.exit(2);
    }
    throw err;
  }
  const runtime = experimentRuntime(experiment);
  spaces.set(experiment.id, experiment.space);
  // A step's runtime is loaded before its metrics are reported, so that its experiment's space is known by then.
  const runtimeFor = runtimeCache(async (id) => {
    const loaded = await store.get(id);
    spaces.set(id, loaded.space);
    return loaded;
  }, [runtime]);
  const params = new ParameterServerClient({ shards: config.shards, ...(config.tls ? { tls: config.tls } : {}) });
  const prefix = config.queuePrefix;
  const flow = new FlowProducer({ connection, prefix });
  const stepsQueue = new Queue(STEPS_QUEUE, { connection, prefix });
  const childrenQueue = new Queue(CHILDREN_QUEUE, { connection, prefix });
  queues = { children: childrenQueue, steps: stepsQueue };
  // A replica waiting for its step listens for the steps queue closing: one listener per hosted replica.
  stepsQueue.setMaxListeners(10 + 2 * config.replicas.length * experiment.stepsInFlight);
  // BullMQ leaves a connection it is given open on close(): these are closed below, after their users.
  const eventsConnection = connection.duplicate();
  const workerConnection = connection.duplicate();
  const stepsEvents = new QueueEvents(STEPS_QUEUE, { connection: eventsConnection, prefix });
  await stepsEvents.waitUntilReady();
  const processStep = createStepProcessor({ store, params, runtime: runtimeFor, metrics, log: ({ event, ...fields }) => log(event, fields) });
  const stepWorker = new Worker(STEPS_QUEUE, async (job) => processStep(job), { connection: workerConnection, prefix, concurrency: Math.min(config.replicas.length, STEP_SLOTS) });
  stepWorker.on('completed', (job, summary) => log('step-applied', { step: job.id, ...(summary as object) }));
  stepWorker.on('failed', (job, err) => log('step-failed', { level: 'warn', step: job?.id, error: err.message }));

  const abort = new AbortController();
  // Each replica waits on the signal (its step, its poll): several replicas are not a listener leak.
  setMaxListeners(10 + 2 * config.replicas.length * experiment.stepsInFlight, abort.signal);
  // The replicas' runs: close() lets them finish the Redis or shard call they are in before it closes the
  // connections under them (a SIGTERM while a replica reserves or samples must not fail that call).
  let runs: Promise<unknown> = Promise.resolve();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      abort.abort();
      // Each replica returns within a call's time of the abort; ten seconds is a wide margin.
      await Promise.race([runs, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      await stepWorker.close();
      await Promise.allSettled([stepsEvents.close(), stepsQueue.close(), childrenQueue.close(), flow.close()]);
      params.close();
      for (const c of [eventsConnection, workerConnection, connection]) c.disconnect();
      await metricsServer?.close();
      const cpu = process.cpuUsage();
      log('closed', { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000 });
    })();
    return closing;
  };
  // Once closed, nothing is left open and the process ends by itself with code 0; a handle still open after
  // a few seconds is a leak, said in a warning line before the process is ended anyway.
  const shutdown = (signal: NodeJS.Signals): void => {
    log('stopping', { signal });
    close().then(
      () => {
        process.exitCode = 0;
        setTimeout(() => {
          log('exit_forced', { level: 'warn', message: 'handles were still open 5 s after close' });
          process.exit(0);
        }, 5_000).unref();
      },
      (err: unknown) => {
        log('close_failed', { level: 'error', message: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  loaded = true;
  const started = process.cpuUsage();
  log('started', { experiment: experiment.id, replica: config.replica, replicas: config.replicas.length, shards: config.shards.length, cpuUserMs: started.user / 1000, cpuSystemMs: started.system / 1000 });
  // The replicas of one process share its connections, shard client and policy (each step sets the policy's
  // parameters and samples from them without yielding), and nothing else: each reserves, samples and waits
  // under its own index, as a process of its own would.
  const init = initOnce(runtime, params, abort.signal);
  const replicaRuns = config.replicas.map((index) => new ControllerReplica({
    runtime, replica: index, store, params, flow, stepsQueue, stepsEvents, metrics, reservationStaleMs: config.reservationStaleMs, init,
    ...(config.seed === undefined ? {} : { seed: config.seed }),
    onStep: (info) => log('step-done', { replica: index, ...info }),
    // A step job that fails (stalled past the limit on a busy machine) is reported and put back, never fatal.
    log: ({ event, ...fields }) => log(event, { replica: index, ...fields }),
  }).run(abort.signal).then((summary) => ({ index, summary })));
  runs = Promise.allSettled(replicaRuns);
  // A replica that fails because the process is stopping (its signal aborted a retry) failed nothing; any
  // other failure ends the process (exit 1), as soon as it happens.
  const summaries = await Promise.all(replicaRuns).catch((err: unknown) => {
    if (abort.signal.aborted) return null;
    throw err;
  });
  // Stopped by a signal: the budget is not spent, and close() ends the process. (Stopped by `nasrl stop`: it
  // completes the steps still pending, which push nothing, then leaves like a replica whose budget is spent.)
  if (summaries === null || abort.signal.aborted) return;
  for (const { index, summary } of summaries) log(summary.stopped ? 'experiment-stopped' : 'budget-spent', { replica: index, ...summary });
  if (config.exitWhenDone) {
    // Keep completing other replicas' steps until none is pending, then leave.
    for (;;) {
      const counts = await stepsQueue.getJobCounts('waiting', 'active', 'waiting-children', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await close();
    process.exit(0);
  }
}

main().catch((err: unknown) => {
  console.error(`controller: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
