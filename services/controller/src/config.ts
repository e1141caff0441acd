import { ServiceEnv } from '@nasrl/env';
import { DEFAULT_QUEUE_PREFIX, QUEUE_PREFIX_PATTERN } from '@nasrl/queue';

/** Prefix of the controller service's own environment variables (REDIS_URL is shared by every service). */
export const ENV_PREFIX = 'NASRL_CONTROLLER_';

/** Every variable the controller replica accepts, with its meaning and default; any other NASRL_CONTROLLER_* key is refused. */
export const CONTROLLER_ENV: Readonly<Record<string, string>> = {
  REDIS_URL: 'Redis to use: redis://[user:password@]host:port[/db], rediss:// for TLS. Default redis://127.0.0.1:6379',
  NASRL_CONTROLLER_EXPERIMENT: 'id of the experiment this replica works on (required)',
  NASRL_CONTROLLER_EXPERIMENT_CONFIG: 'experiment configuration as JSON; the experiment is created with it when it does not exist yet',
  NASRL_CONTROLLER_REPLICA: 'this replica\'s index: an integer, or a pod name ending in "-N". Default 0',
  NASRL_CONTROLLER_REPLICAS: 'several replicas in this one process, each with its own index, reservations and steps as if it ran alone: indices and ranges separated by commas, e.g. 0-49 or 0,2,5-7 (at most 1000). Instead of NASRL_CONTROLLER_REPLICA',
  NASRL_CONTROLLER_PS_SHARDS: 'comma-separated host:port of every parameter-server shard, in shard order (required)',
  NASRL_CONTROLLER_SEED: 'seed of the replica\'s sampling. Default: derived from the experiment id',
  NASRL_CONTROLLER_EXIT_WHEN_DONE: 'exit once the budget is spent and no step is pending (true/false). Default false',
  NASRL_CONTROLLER_QUEUE_PREFIX: 'BullMQ key prefix, the same as the workers\' (NASRL_WORKER_QUEUE_PREFIX). Default bull',
  NASRL_CONTROLLER_RESERVATION_STALE_MS: 'a reservation of architectures that another replica has not enqueued for this long is taken over (its replica died). Default 60000',
  NASRL_CONTROLLER_PS_TLS_CA_FILE: 'PEM CA bundle that signs the shards\' certificates; enables TLS',
  NASRL_CONTROLLER_PS_TLS_CERT_FILE: 'PEM client certificate for shards that require one',
  NASRL_CONTROLLER_PS_TLS_KEY_FILE: 'PEM private key of the client certificate',
  NASRL_CONTROLLER_METRICS_HOST: 'interface of the HTTP server of /metrics, /healthz and /readyz; 0.0.0.0 in containers. Default 127.0.0.1',
  NASRL_CONTROLLER_METRICS_PORT: 'port of /metrics, /healthz and /readyz; 0 picks a free port (read it from the "metrics_listening" log line). Default 9465',
};

export const CONTROLLER_ENV_KEYS: readonly string[] = Object.keys(CONTROLLER_ENV);

/** The replica's configuration, fully populated. */
export interface ControllerServiceConfig {
  readonly redisUrl: string;
  readonly experiment: string;
  readonly experimentConfig: unknown | null;
  /** The first (or only) replica index of this process. */
  readonly replica: number;
  /** Every replica index this process hosts, ascending, without repeats. */
  readonly replicas: readonly number[];
  readonly shards: string[];
  readonly seed: number | undefined;
  readonly exitWhenDone: boolean;
  readonly reservationStaleMs: number;
  readonly queuePrefix: string;
  readonly tls: { caFile?: string; certFile?: string; keyFile?: string } | null;
  readonly metricsHost: string;
  readonly metricsPort: number;
}

/** Thrown for a missing, unknown or malformed variable; the message names it and what it accepts. */
export class ControllerConfigError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ControllerConfigError';
  }
}

/** Parses the environment once; throws ControllerConfigError naming the first bad key. */
export function parseControllerEnv(env: Readonly<Record<string, string | undefined>>): ControllerServiceConfig {
  const e = new ServiceEnv(env, { prefix: ENV_PREFIX, accepted: CONTROLLER_ENV, error: (m) => new ControllerConfigError(m) });
  const shards = e.required('NASRL_CONTROLLER_PS_SHARDS').split(',').map((s) => s.trim());
  for (const s of shards) {
    if (!/^[A-Za-z0-9_.\-[\]:]+:\d{1,5}$/.test(s)) throw e.fail('NASRL_CONTROLLER_PS_SHARDS', 'must list host:port addresses separated by commas', s);
  }
  let experimentConfig: unknown | null = null;
  const configText = e.raw('NASRL_CONTROLLER_EXPERIMENT_CONFIG');
  if (configText !== undefined) {
    try {
      experimentConfig = JSON.parse(configText) as unknown;
    } catch (err) {
      throw new ControllerConfigError(`NASRL_CONTROLLER_EXPERIMENT_CONFIG is not valid JSON (${(err as Error).message})`);
    }
  }
  const list = e.raw('NASRL_CONTROLLER_REPLICAS');
  if (list !== undefined && e.raw('NASRL_CONTROLLER_REPLICA') !== undefined) {
    throw new ControllerConfigError('set NASRL_CONTROLLER_REPLICA (one replica) or NASRL_CONTROLLER_REPLICAS (several in this process), not both');
  }
  const replicas = list === undefined ? [e.ordinal('NASRL_CONTROLLER_REPLICA', 0)] : replicaList(list);
  const seed = e.matching('NASRL_CONTROLLER_SEED', undefined, /^\d{1,10}$/, 'be a non-negative integer');
  const ca = e.raw('NASRL_CONTROLLER_PS_TLS_CA_FILE');
  const cert = e.raw('NASRL_CONTROLLER_PS_TLS_CERT_FILE');
  const key = e.raw('NASRL_CONTROLLER_PS_TLS_KEY_FILE');
  if ((cert === undefined) !== (key === undefined)) throw new ControllerConfigError('NASRL_CONTROLLER_PS_TLS_CERT_FILE and NASRL_CONTROLLER_PS_TLS_KEY_FILE must be set together');
  return {
    redisUrl: e.raw('REDIS_URL') ?? 'redis://127.0.0.1:6379',
    experiment: e.required('NASRL_CONTROLLER_EXPERIMENT'),
    experimentConfig,
    replica: replicas[0] as number,
    replicas,
    shards,
    seed: seed === undefined ? undefined : Number(seed) >>> 0,
    exitWhenDone: e.bool('NASRL_CONTROLLER_EXIT_WHEN_DONE', false),
    reservationStaleMs: e.int('NASRL_CONTROLLER_RESERVATION_STALE_MS', 60_000, 100, 2 ** 31 - 1),
    queuePrefix: e.matching('NASRL_CONTROLLER_QUEUE_PREFIX', DEFAULT_QUEUE_PREFIX, QUEUE_PREFIX_PATTERN, 'match [A-Za-z0-9_.-]{1,64}'),
    metricsHost: e.host('NASRL_CONTROLLER_METRICS_HOST', '127.0.0.1'),
    metricsPort: e.port('NASRL_CONTROLLER_METRICS_PORT', 9465),
    tls: ca || cert ? { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert } : {}), ...(key ? { keyFile: key } : {}) } : null,
  };
}

/** Most replicas one process hosts. */
export const MAX_REPLICAS_PER_PROCESS = 1000;

/** Parses NASRL_CONTROLLER_REPLICAS ("0-49", "0,2,5-7") into ascending distinct indices. */
export function replicaList(text: string): number[] {
  const fail = (why: string): ControllerConfigError => new ControllerConfigError(`NASRL_CONTROLLER_REPLICAS ${why}, got '${text}'`);
  const indices = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part);
    if (!m) throw fail('must list replica indices and ranges separated by commas, e.g. 0-49 or 0,2,5-7');
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw fail(`has a range that ends before it starts (${part})`);
    if (to - from + 1 + indices.size > MAX_REPLICAS_PER_PROCESS) throw fail(`names more than ${MAX_REPLICAS_PER_PROCESS} replicas; spread them over several processes`);
    for (let r = from; r <= to; r++) {
      if (indices.has(r)) throw fail(`names replica ${r} twice`);
      indices.add(r);
    }
  }
  return [...indices].sort((a, b) => a - b);
}
