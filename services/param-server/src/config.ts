import { ServiceEnv } from '@nasrl/env';
import { STALENESS_RULES, type StalenessRule } from '@nasrl/ps';

/** Prefix of every environment variable the parameter-server service reads. */
export const ENV_PREFIX = 'NASRL_PS_';

/**
 * Every environment variable the service accepts, with its meaning and default. Deploy checks compare the
 * docker-compose and Kubernetes manifests against this list; any other NASRL_PS_* key is refused at start.
 */
export const PARAM_SERVER_ENV: Readonly<Record<string, string>> = {
  NASRL_PS_SHARD_INDEX: 'this shard\'s index: an integer, or a StatefulSet pod name such as "ps-3" (the ordinal is used). Default 0',
  NASRL_PS_SHARD_COUNT: 'number of shards in the cluster. Default 1',
  NASRL_PS_HOST: 'interface to listen on; 0.0.0.0 in containers. Default 127.0.0.1',
  NASRL_PS_PORT: 'port to listen on; 0 picks a free port (read it from the "listening" log line). Default 7070',
  NASRL_PS_CHECKPOINT_DIR: 'directory for checkpoints; unset disables checkpointing (logged as a warning)',
  NASRL_PS_CHECKPOINT_EVERY_UPDATES: 'checkpoint after this many changes (pushes, inits); 0 = never. Default 100',
  NASRL_PS_CHECKPOINT_INTERVAL_MS: 'checkpoint this often when anything changed; 0 = never. Default 30000',
  NASRL_PS_CHECKPOINT_KEEP: 'how many newest checkpoint files to keep. Default 3',
  NASRL_PS_STALENESS_BOUND: 'largest accepted staleness (current − base version), or "unbounded". Default unbounded',
  NASRL_PS_STALENESS_RULE: `down-weighting of stale gradients: ${STALENESS_RULES.join(' | ')}. Default none`,
  NASRL_PS_ACCUMULATE: 'apply the mean of every k gradients as one update (recurrent search: 10). Default 1',
  NASRL_PS_LEARNING_RATE: 'Adam learning rate of an experiment whose Init states no settings (controllers state the experiment\'s learningRate). Default 0.0006',
  NASRL_PS_BETA1: 'Adam beta1 of an experiment whose Init states no settings (controllers state 0.9). Default 0.9',
  NASRL_PS_BETA2: 'Adam beta2 of an experiment whose Init states no settings (controllers state 0.999). Default 0.999',
  NASRL_PS_EPSILON: 'Adam epsilon of an experiment whose Init states no settings (controllers state 1e-8). Default 1e-8',
  NASRL_PS_MAX_REMEMBERED_STEPS: 'step ids remembered per experiment for duplicate detection. Default 20000',
  NASRL_PS_MAX_MESSAGE_BYTES: 'largest gRPC message in bytes. Default 67108864 (64 MiB)',
  NASRL_PS_SHUTDOWN_GRACE_MS: 'how long a shutdown lets in-flight calls finish. Default 5000',
  NASRL_PS_TLS_CERT_FILE: 'PEM certificate chain of the server; with NASRL_PS_TLS_KEY_FILE enables TLS',
  NASRL_PS_TLS_KEY_FILE: 'PEM private key of the server',
  NASRL_PS_TLS_CLIENT_CA_FILE: 'PEM CA bundle; when set, clients must present a certificate signed by it',
  NASRL_PS_METRICS_HOST: 'interface of the HTTP server of /metrics, /healthz and /readyz; 0.0.0.0 in containers. Default 127.0.0.1',
  NASRL_PS_METRICS_PORT: 'port of /metrics, /healthz and /readyz; 0 picks a free port (read it from the "metrics_listening" log line). Default 9464',
};

/** The accepted keys, for deploy checks. */
export const PARAM_SERVER_ENV_KEYS: readonly string[] = Object.keys(PARAM_SERVER_ENV);

/** The service's configuration, fully populated. */
export interface ParamServerConfig {
  shardIndex: number;
  shardCount: number;
  host: string;
  port: number;
  checkpointDir: string | null;
  checkpointEveryUpdates: number;
  checkpointIntervalMs: number;
  checkpointKeep: number;
  stalenessBound: number;
  stalenessRule: StalenessRule;
  accumulate: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  maxRememberedSteps: number;
  maxMessageBytes: number;
  shutdownGraceMs: number;
  tls: { certFile: string; keyFile: string; clientCaFile?: string } | null;
  metricsHost: string;
  metricsPort: number;
}

/** Thrown for an unknown or malformed NASRL_PS_* variable; the message names the key and what it accepts. */
export class ConfigError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the NASRL_PS_* variables of `env` once; throws ConfigError naming the first bad key. */
export function parseParamServerEnv(env: Readonly<Record<string, string | undefined>>): ParamServerConfig {
  const e = new ServiceEnv(env, { prefix: ENV_PREFIX, accepted: PARAM_SERVER_ENV, error: (m) => new ConfigError(m) });
  const shardCount = e.int('NASRL_PS_SHARD_COUNT', 1, 1, 10_000);
  const shardIndex = e.ordinal('NASRL_PS_SHARD_INDEX', 0);
  if (shardIndex >= shardCount) {
    throw new ConfigError(`NASRL_PS_SHARD_INDEX is ${shardIndex} but NASRL_PS_SHARD_COUNT is ${shardCount}; the index must be below the count`);
  }
  const bound = e.matching('NASRL_PS_STALENESS_BOUND', 'unbounded', /^(\d+|unbounded)$/, 'be a non-negative integer or "unbounded"');
  const certFile = e.raw('NASRL_PS_TLS_CERT_FILE');
  const keyFile = e.raw('NASRL_PS_TLS_KEY_FILE');
  const clientCaFile = e.raw('NASRL_PS_TLS_CLIENT_CA_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('NASRL_PS_TLS_CERT_FILE and NASRL_PS_TLS_KEY_FILE must be set together (or neither, for plaintext)');
  }
  if (clientCaFile !== undefined && certFile === undefined) {
    throw new ConfigError('NASRL_PS_TLS_CLIENT_CA_FILE needs NASRL_PS_TLS_CERT_FILE and NASRL_PS_TLS_KEY_FILE (client certificates only work over TLS)');
  }
  const unit = (x: number): boolean => x >= 0 && x < 1;
  return {
    shardIndex,
    shardCount,
    host: e.host('NASRL_PS_HOST', '127.0.0.1'),
    port: e.port('NASRL_PS_PORT', 7070),
    checkpointDir: e.raw('NASRL_PS_CHECKPOINT_DIR') ?? null,
    checkpointEveryUpdates: e.int('NASRL_PS_CHECKPOINT_EVERY_UPDATES', 100, 0),
    checkpointIntervalMs: e.int('NASRL_PS_CHECKPOINT_INTERVAL_MS', 30_000, 0),
    checkpointKeep: e.int('NASRL_PS_CHECKPOINT_KEEP', 3, 1, 1_000),
    stalenessBound: bound === 'unbounded' ? Infinity : Number(bound),
    stalenessRule: e.oneOf<StalenessRule>('NASRL_PS_STALENESS_RULE', 'none', STALENESS_RULES),
    accumulate: e.int('NASRL_PS_ACCUMULATE', 1, 1, 1_000_000),
    learningRate: e.number('NASRL_PS_LEARNING_RATE', 0.0006, (x) => x > 0, '> 0'),
    beta1: e.number('NASRL_PS_BETA1', 0.9, unit, 'in [0, 1)'),
    beta2: e.number('NASRL_PS_BETA2', 0.999, unit, 'in [0, 1)'),
    epsilon: e.number('NASRL_PS_EPSILON', 1e-8, (x) => x > 0, '> 0'),
    maxRememberedSteps: e.int('NASRL_PS_MAX_REMEMBERED_STEPS', 20_000, 1),
    maxMessageBytes: e.int('NASRL_PS_MAX_MESSAGE_BYTES', 64 * 1024 * 1024, 1024, 2 ** 31 - 1),
    shutdownGraceMs: e.int('NASRL_PS_SHUTDOWN_GRACE_MS', 5_000, 0),
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}) } : null,
    metricsHost: e.host('NASRL_PS_METRICS_HOST', '127.0.0.1'),
    metricsPort: e.port('NASRL_PS_METRICS_PORT', 9464),
  };
}

/** The address to listen on, host:port (IPv6 hosts in brackets). */
export function listenAddress(c: Pick<ParamServerConfig, 'host' | 'port'>): string {
  const host = c.host.includes(':') && !c.host.startsWith('[') ? `[${c.host}]` : c.host;
  return `${host}:${c.port}`;
}
