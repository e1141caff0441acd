/** Prefix of the controller service's own environment variables (REDIS_URL is shared by every service). */
export const ENV_PREFIX = 'NASRL_CONTROLLER_';

/** Every variable the controller replica accepts, with its meaning and default; any other NASRL_CONTROLLER_* key is refused. */
export const CONTROLLER_ENV: Readonly<Record<string, string>> = {
  REDIS_URL: 'Redis to use: redis://[user:password@]host:port[/db], rediss:// for TLS. Default redis://127.0.0.1:6379',
  NASRL_CONTROLLER_EXPERIMENT: 'id of the experiment this replica works on (required)',
  NASRL_CONTROLLER_EXPERIMENT_CONFIG: 'experiment configuration as JSON; the experiment is created with it when it does not exist yet',
  NASRL_CONTROLLER_REPLICA: 'this replica\'s index: an integer, or a pod name ending in "-N". Default 0',
  NASRL_CONTROLLER_PS_SHARDS: 'comma-separated host:port of every parameter-server shard, in shard order (required)',
  NASRL_CONTROLLER_SEED: 'seed of the replica\'s sampling. Default: derived from the experiment id',
  NASRL_CONTROLLER_EXIT_WHEN_DONE: 'exit once the budget is spent and no step is pending (true/false). Default false',
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
  readonly replica: number;
  readonly shards: string[];
  readonly seed: number | undefined;
  readonly exitWhenDone: boolean;
  readonly reservationStaleMs: number;
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
  const unknown = Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX) && !(k in CONTROLLER_ENV));
  if (unknown.length > 0) throw new ControllerConfigError(`unknown variable ${unknown.sort().join(', ')}; accepted: ${CONTROLLER_ENV_KEYS.join(', ')}`);
  const raw = (k: string): string | undefined => {
    const v = env[k]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (k: string): string => {
    const v = raw(k);
    if (v === undefined) throw new ControllerConfigError(`${k} is required: ${CONTROLLER_ENV[k]}`);
    return v;
  };
  const replicaText = raw('NASRL_CONTROLLER_REPLICA') ?? '0';
  const replicaMatch = /^(?:.*-)?(\d+)$/.exec(replicaText);
  if (!replicaMatch) throw new ControllerConfigError(`NASRL_CONTROLLER_REPLICA: expected an integer or a name ending in "-N", got ${JSON.stringify(replicaText)}`);
  const shards = required('NASRL_CONTROLLER_PS_SHARDS').split(',').map((s) => s.trim());
  for (const s of shards) {
    if (!/^[A-Za-z0-9_.\-[\]:]+:\d{1,5}$/.test(s)) throw new ControllerConfigError(`NASRL_CONTROLLER_PS_SHARDS: "${s}" is not host:port`);
  }
  let experimentConfig: unknown | null = null;
  const configText = raw('NASRL_CONTROLLER_EXPERIMENT_CONFIG');
  if (configText !== undefined) {
    try {
      experimentConfig = JSON.parse(configText) as unknown;
    } catch (err) {
      throw new ControllerConfigError(`NASRL_CONTROLLER_EXPERIMENT_CONFIG: not valid JSON (${(err as Error).message})`);
    }
  }
  const seedText = raw('NASRL_CONTROLLER_SEED');
  if (seedText !== undefined && !/^\d{1,10}$/.test(seedText)) throw new ControllerConfigError(`NASRL_CONTROLLER_SEED: expected a non-negative integer, got ${JSON.stringify(seedText)}`);
  const exitText = raw('NASRL_CONTROLLER_EXIT_WHEN_DONE') ?? 'false';
  if (exitText !== 'true' && exitText !== 'false') throw new ControllerConfigError(`NASRL_CONTROLLER_EXIT_WHEN_DONE: expected true or false, got ${JSON.stringify(exitText)}`);
  const staleText = raw('NASRL_CONTROLLER_RESERVATION_STALE_MS') ?? '60000';
  if (!/^\d{1,9}$/.test(staleText) || Number(staleText) < 100) {
    throw new ControllerConfigError(`NASRL_CONTROLLER_RESERVATION_STALE_MS: expected an integer number of milliseconds, at least 100, got ${JSON.stringify(staleText)}`);
  }
  const ca = raw('NASRL_CONTROLLER_PS_TLS_CA_FILE');
  const cert = raw('NASRL_CONTROLLER_PS_TLS_CERT_FILE');
  const key = raw('NASRL_CONTROLLER_PS_TLS_KEY_FILE');
  if ((cert === undefined) !== (key === undefined)) throw new ControllerConfigError('NASRL_CONTROLLER_PS_TLS_CERT_FILE and NASRL_CONTROLLER_PS_TLS_KEY_FILE go together');
  const metricsHost = raw('NASRL_CONTROLLER_METRICS_HOST') ?? '127.0.0.1';
  if (/\s|\//.test(metricsHost)) throw new ControllerConfigError(`NASRL_CONTROLLER_METRICS_HOST: expected a host name or IP address, got ${JSON.stringify(metricsHost)}`);
  const portText = raw('NASRL_CONTROLLER_METRICS_PORT') ?? '9465';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) throw new ControllerConfigError(`NASRL_CONTROLLER_METRICS_PORT: expected an integer in [0, 65535], got ${JSON.stringify(portText)}`);
  return {
    redisUrl: raw('REDIS_URL') ?? 'redis://127.0.0.1:6379',
    experiment: required('NASRL_CONTROLLER_EXPERIMENT'),
    experimentConfig,
    replica: Number(replicaMatch[1]),
    shards,
    seed: seedText === undefined ? undefined : Number(seedText) >>> 0,
    exitWhenDone: exitText === 'true',
    reservationStaleMs: Number(staleText),
    metricsHost,
    metricsPort: Number(portText),
    tls: ca || cert ? { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert } : {}), ...(key ? { keyFile: key } : {}) } : null,
  };
}
