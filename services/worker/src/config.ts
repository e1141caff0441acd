import { hostname } from 'node:os';
import { redisOptionsFromUrl } from '@nasrl/queue';

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
  NASRL_WORKER_SHUTDOWN_GRACE_MS: 'on SIGTERM/SIGINT, how long the active child may finish before the process exits anyway (the child is then retried elsewhere). Default 30000',
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

const TF_BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Parses the NASRL_WORKER_* variables of `env` once; throws WorkerConfigError naming the first bad key. */
export function parseWorkerEnv(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const unknown = Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX) && !(k in WORKER_ENV));
  if (unknown.length > 0) {
    throw new WorkerConfigError(`unknown variable ${unknown.sort().join(', ')}; accepted ${ENV_PREFIX}* keys: ${WORKER_ENV_KEYS.join(', ')}`);
  }
  // docker-compose and Kubernetes often pass "KEY=" for "not set".
  const raw = (k: string): string | undefined => {
    const v = env[k]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (k: string, def: number, min: number, max = 2 ** 31 - 1): number => {
    const v = raw(k);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new WorkerConfigError(`${k} must be an integer in [${min}, ${max}], got '${v}'`);
    return Number(v);
  };
  const redisUrl = raw('REDIS_URL') ?? 'redis://127.0.0.1:6379';
  try {
    redisOptionsFromUrl(redisUrl);
  } catch (err) {
    throw new WorkerConfigError(`REDIS_URL is malformed: ${(err as Error).message.replace(/^redis: REDIS_URL: /, '')}`);
  }
  const workerId = raw('NASRL_WORKER_ID') ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128);
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(workerId)) throw new WorkerConfigError(`NASRL_WORKER_ID must match [A-Za-z0-9_.-]{1,128}, got '${workerId}'`);
  const queuePrefix = raw('NASRL_WORKER_QUEUE_PREFIX') ?? 'bull';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix)) throw new WorkerConfigError(`NASRL_WORKER_QUEUE_PREFIX must match [A-Za-z0-9_.-]{1,64}, got '${queuePrefix}'`);
  const tfBackend = raw('NASRL_WORKER_TF_BACKEND') ?? 'auto';
  if (!TF_BACKENDS.includes(tfBackend)) throw new WorkerConfigError(`NASRL_WORKER_TF_BACKEND must be one of ${TF_BACKENDS.join(', ')}, got '${tfBackend}'`);
  const metricsHost = raw('NASRL_WORKER_METRICS_HOST') ?? '127.0.0.1';
  if (/\s|\//.test(metricsHost)) throw new WorkerConfigError(`NASRL_WORKER_METRICS_HOST must be a host name or IP address, got '${metricsHost}'`);
  const lockDurationMs = int('NASRL_WORKER_LOCK_DURATION_MS', 30_000, 500);
  return {
    redisUrl,
    workerId,
    queuePrefix,
    lockDurationMs,
    stalledIntervalMs: int('NASRL_WORKER_STALLED_INTERVAL_MS', 30_000, 100),
    maxStalledCount: int('NASRL_WORKER_MAX_STALLED_COUNT', 1, 0, 1000),
    shutdownGraceMs: int('NASRL_WORKER_SHUTDOWN_GRACE_MS', 30_000, 0),
    tfBackend,
    metricsHost,
    metricsPort: int('NASRL_WORKER_METRICS_PORT', 9466, 0, 65_535),
  };
}
