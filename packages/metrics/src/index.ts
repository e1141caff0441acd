/**
 * Prometheus metrics of the nasrl services: a registry with the default process metrics and build info, the
 * HTTP server of /metrics, /healthz and /readyz, and each service's metrics.
 *
 * @example
 * ```ts
 * import { createRegistry, startMetricsServer, workerMetrics } from '@nasrl/metrics';
 * const registry = createRegistry('worker');
 * const metrics = workerMetrics(registry);
 * const server = await startMetricsServer({ registry, host: '127.0.0.1', port: 9466, ready: () => connected });
 * metrics.childStarted(1);
 * // ... on shutdown
 * await server.close();
 * ```
 */
export { createRegistry, PERPLEXITY_BUCKETS, REWARD_BUCKETS, STALENESS_BUCKETS, TRAINING_SECONDS_BUCKETS } from './registry';
export { startMetricsServer } from './server';
export type { MetricsServer, MetricsServerOptions } from './server';
export { controllerMetrics, QUEUE_STATES } from './controller';
export type { ControllerMetrics, ControllerMetricsOptions, QueueJobCounts, StepObservation } from './controller';
export { workerMetrics } from './worker';
export type { ChildFailureReason, WorkerMetrics } from './worker';
export { paramServerMetrics } from './param-server';
export type { ParamServerMetrics, ParamServerMetricsOptions, ShardStatsSource } from './param-server';
export type { Registry } from 'prom-client';
export { promtoolCheck } from './testing';
