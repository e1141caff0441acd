import { hostname } from 'node:os';
import { ServiceEnv } from '@nasrl/env';
import { DEFAULT_QUEUE_PREFIX, QUEUE_PREFIX_PATTERN, redisOptionsFromUrl } from '@nasrl/queue';

/** Prefix of every environment variable the worker service reads. */
export const ENV_PREFIX = 'NASRL_WORKER_';

/**
 * Every environment variable the worker accepts, with its meaning and default. Any other NASRL_WORKER_* key
 * is refused at start, so that a typo in a manifest fails loudly instead of being ignored.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = {
  REDIS_URL: 'Redis to use: redis://[user:password@]host:port[/db], rediss:// for TLS. Default redis://127.0.0.1:6379',
  NASRL_WORKER_ID: 'this worker\'s id in results and logs ([A-Za-z0-9_.-]{1,128}). Default <hostname>-<pid>',
  NASRL_WORKER_QUEUE_PREFIX: 'BullMQ key prefix, the same as the controllers\'. Default bull',
  NASRL_WORKER_LOCK_DURATION_MS: 'lock of an active job; a dead worker\'s job is retried elsewhere after it expires. Default 30000',
  NASRL_WORKER_STALLED_INTERVAL_MS: 'how often this worker looks for jobs of dead workers. Default 30000',
  NASRL_WORKER_MAX_STALLED_COUNT: 'times a job may be recovered from dead workers before it fails. Default 1',
  NASRL_WORKER_SHUTDOWN_GRACE_MS: 'on SIGTERM/SIGINT the active child is cancelled and its job put back to wait; how long the worker waits for that before it exits anyway (the job is then retried once its lock expires). Default 30000',
  NASRL_WORKER_CANCEL_CHECK_MS: 'how often the active child is checked for its experiment stopped (nasrl stop) or its job removed, which cancels it. Default 1000',
  NASRL_WORKER_CHILDREN: 'children this process evaluates at once (1..1000). Above 1 they run in this process, not in a sandbox, and only table experiments (simulated children) are taken: a training child stays one per process and GPU. Default 1',
  NASRL_WORKER_TF_BACKEND: 'TensorFlow.js backend for training: auto | tensorflow-gpu | tensorflow | wasm | cpu. Default auto',
  NASRL_WORKER_METRICS_HOST: 'interface of the HTTP server of /metrics, /healthz and /readyz; 0.0.0.0 in containers. Default 127.0.0.1',
  NASRL_WORKER_METRICS_PORT: 'port of /metrics, /healthz and /readyz; 0 picks a free port (read it from the "metrics_listening" log line). Default 9466',
};

/** The accepted keys, for deploy checks. */
export const WORKER_ENV_KEYS: readonly string[] = Object.keys(WORKER_ENV);

/** The worker's configuration, fully populated. */
export interface WorkerConfig {
  readonly redisUrl: string;
  readonly workerId: string;
  readonly queuePrefix: string;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly shutdownGraceMs: number;
  readonly cancelCheckMs: number;
  /** Children evaluated at once; above 1, in this process and for table experiments only. */
  readonly children: number;
  readonly tfBackend: string;
  readonly metricsHost: string;
  readonly metricsPort: number;
}

/** Thrown for an unknown or malformed NASRL_WORKER_* variable; the message names the key and what it accepts. */
export class WorkerConfigError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

const TF_BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

/** Parses the NASRL_WORKER_* variables of `env` once; throws WorkerConfigError naming the first bad key. */
export function parseWorkerEnv(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const e = new ServiceEnv(env, { prefix: ENV_PREFIX, accepted: WORKER_ENV, error: (m) => new WorkerConfigError(m) });
  const redisUrl = e.raw('REDIS_URL') ?? 'redis://127.0.0.1:6379';
  try {
    redisOptionsFromUrl(redisUrl);
  } catch (err) {
    throw new WorkerConfigError(`REDIS_URL is malformed: ${(err as Error).message.replace(/^redis: REDIS_URL: /, '')}`);
  }
  const defaultId = `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128);
  return {
    redisUrl,
    workerId: e.matching('NASRL_WORKER_ID', defaultId, /^[A-Za-z0-9_.-]{1,128}$/, 'match [A-Za-z0-9_.-]{1,128}'),
    queuePrefix: e.matching('NASRL_WORKER_QUEUE_PREFIX', DEFAULT_QUEUE_PREFIX, QUEUE_PREFIX_PATTERN, 'match [A-Za-z0-9_.-]{1,64}'),
    lockDurationMs: e.int('NASRL_WORKER_LOCK_DURATION_MS', 30_000, 500, 2 ** 31 - 1),
    stalledIntervalMs: e.int('NASRL_WORKER_STALLED_INTERVAL_MS', 30_000, 100, 2 ** 31 - 1),
    maxStalledCount: e.int('NASRL_WORKER_MAX_STALLED_COUNT', 1, 0, 1000),
    shutdownGraceMs: e.int('NASRL_WORKER_SHUTDOWN_GRACE_MS', 30_000, 0, 2 ** 31 - 1),
    cancelCheckMs: e.int('NASRL_WORKER_CANCEL_CHECK_MS', 1_000, 50, 2 ** 31 - 1),
    children: e.int('NASRL_WORKER_CHILDREN', 1, 1, 1000),
    tfBackend: e.oneOf('NASRL_WORKER_TF_BACKEND', 'auto', TF_BACKENDS),
    metricsHost: e.host('NASRL_WORKER_METRICS_HOST', '127.0.0.1'),
    metricsPort: e.port('NASRL_WORKER_METRICS_PORT', 9466),
  };
}
