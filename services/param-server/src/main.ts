/**
 * One parameter-server shard process: reads NASRL_PS_* once, restores the newest valid checkpoint, serves
 * gRPC, prints `{"event":"listening","address":"host:port",...}` on stdout once bound (a supervisor that
 * started it with port 0 reads the port there), and on SIGINT/SIGTERM closes gracefully with a final
 * checkpoint. Serves /metrics, /healthz and /readyz over HTTP (NASRL_PS_METRICS_*; its address in a
 * `{"event":"metrics_listening",...}` line); ready once gRPC listens. Exit codes: 0 after a clean shutdown, 2 for bad configuration, 1 for any other failure.
 */
import {
  Checkpointer,
  CheckpointStore,
  jsonLineLogger,
  ParameterServerConfigError,
  ParameterServerServer,
  type Logger,
} from '@nasrl/ps';
import { createRegistry, paramServerMetrics, startMetricsServer, type MetricsServer } from '@nasrl/metrics';
import { InstrumentedShard } from './instrumented-shard';
import { ConfigError, listenAddress, parseParamServerEnv, type ParamServerConfig } from './config';

async function main(): Promise<void> {
  let config: ParamServerConfig;
  try {
    config = parseParamServerEnv(process.env);
  } catch (e) {
    return fail(e, 2);
  }
  const base = jsonLineLogger(process.stdout);
  // Before the first checkpoint of this process, its age counts from the start.
  let lastCheckpointAtMs = Date.now();
  const log: Logger = (r) => {
    if (r.event === 'checkpoint_written') lastCheckpointAtMs = Date.now();
    base({ service: 'param-server', shard: config.shardIndex, ...r });
  };

  let shard: InstrumentedShard;
  let metricsServer: MetricsServer | null = null;
  let ready = false;
  let checkpointer: Checkpointer | null = null;
  let server: ParameterServerServer;
  try {
    shard = new InstrumentedShard({
      shardIndex: config.shardIndex,
      shardCount: config.shardCount,
      adam: { learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon },
      staleness: { bound: config.stalenessBound, rule: config.stalenessRule },
      accumulate: config.accumulate,
      maxRememberedSteps: config.maxRememberedSteps,
    });
    const registry = createRegistry('param-server');
    shard.observe(paramServerMetrics(registry, shard, { lastCheckpointAtMs: () => lastCheckpointAtMs }));
    try {
      metricsServer = await startMetricsServer({ registry, host: config.metricsHost, port: config.metricsPort, ready: () => ready });
      log({ event: 'metrics_listening', address: metricsServer.address });
    } catch (e) {
      // Metrics are an aid: a taken port (several shards on one host with the default) must not stop the shard.
      log({ event: 'metrics_unavailable', level: 'warn', message: `${(e as Error).message}; set NASRL_PS_METRICS_PORT (0 picks a free port)` });
    }
    if (config.checkpointDir) {
      const store = new CheckpointStore({ dir: config.checkpointDir, shardIndex: config.shardIndex, keep: config.checkpointKeep, log });
      checkpointer = new Checkpointer(shard, store, {
        everyUpdates: config.checkpointEveryUpdates,
        intervalMs: config.checkpointIntervalMs,
        log,
      });
      await checkpointer.restore();
      checkpointer.start();
    } else {
      log({ event: 'checkpoints_disabled', level: 'warn', message: 'NASRL_PS_CHECKPOINT_DIR is not set: a restart loses this shard\'s parameters' });
    }
    server = await ParameterServerServer.start({
      shard,
      address: listenAddress(config),
      maxMessageBytes: config.maxMessageBytes,
      shutdownGraceMs: config.shutdownGraceMs,
      log,
      ...(config.tls ? { tls: config.tls } : {}),
    });
  } catch (e) {
    return fail(e, e instanceof ParameterServerConfigError ? 2 : 1);
  }

  let closing: Promise<void> | null = null;
  const close = (signal: string): Promise<void> =>
    (closing ??= (async () => {
      log({ event: 'closing', signal });
      ready = false;
      await server.close();
      shard.close();
      await checkpointer?.close();
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
  ready = true;
  log({
    event: 'listening',
    address: server.address,
    shards: config.shardCount,
    tls: config.tls !== null,
    checkpointDir: config.checkpointDir,
  });
}

function fail(e: unknown, code: number): void {
  const message = e instanceof Error ? e.message : String(e);
  const kind = e instanceof ConfigError || e instanceof ParameterServerConfigError ? 'configuration error' : 'failed';
  process.stderr.write(`param-server: ${kind}: ${message}\n`);
  process.exit(code);
}

void main();
