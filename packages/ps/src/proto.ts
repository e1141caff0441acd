import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ParameterServerConfigError } from './errors';

/*
 * Wire types of proto/nasrl/ps/v1/param_server.proto and proto/grpc/health/v1/health.proto as the loader
 * options below produce them: camelCase fields, uint64 as number (versions and counters stay far below
 * 2^53), enums as their names, defaults filled in, bytes as Buffer when received.
 */

/** A tensor on the wire. */
export interface TensorMessage {
  name: string;
  shape: number[];
  data: Uint8Array;
}

/** ShardLayout on the wire. */
export interface LayoutMessage {
  shardIndex: number;
  shardCount: number;
}

/** AdamSettings on the wire. */
export interface AdamSettingsMessage {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** InitRequest on the wire; `adam` absent (null, or left out when sending) means the shard's defaults. */
export interface InitRequestMessage {
  experiment: string;
  layout: LayoutMessage | null;
  tensors: TensorMessage[];
  adam?: AdamSettingsMessage | null;
}

/** InitResponse on the wire. */
export interface InitResponseMessage {
  experiment: string;
  created: boolean;
  version: number;
}

/** PullRequest on the wire. */
export interface PullRequestMessage {
  experiment: string;
  layout: LayoutMessage | null;
}

/** PullResponse on the wire. */
export interface PullResponseMessage {
  experiment: string;
  version: number;
  tensors: TensorMessage[];
}

/** PushRequest on the wire. */
export interface PushRequestMessage {
  experiment: string;
  layout: LayoutMessage | null;
  replica: string;
  stepId: string;
  baseVersion: number;
  gradients: TensorMessage[];
}

/** PushOutcome enum names. */
export type PushOutcomeName = 'PUSH_OUTCOME_UNSPECIFIED' | 'PUSH_OUTCOME_APPLIED' | 'PUSH_OUTCOME_ACCUMULATED' | 'PUSH_OUTCOME_DUPLICATE';

/** PushResponse on the wire. */
export interface PushResponseMessage {
  experiment: string;
  outcome: PushOutcomeName;
  version: number;
  staleness: number;
  weight: number;
}

/** StatsRequest on the wire. */
export interface StatsRequestMessage {
  experiment: string;
}

/** ExperimentStats on the wire. */
export interface ExperimentStatsMessage {
  experiment: string;
  version: number;
  parameterCount: number;
  tensorCount: number;
  pushesApplied: number;
  pushesAccumulated: number;
  pushesDuplicate: number;
  pushesRejectedStale: number;
  pushesRejectedInvalid: number;
  pendingGradients: number;
  checkpointedVersion: number;
  adam: AdamSettingsMessage | null;
}

/** StatsResponse on the wire. */
export interface StatsResponseMessage {
  layout: LayoutMessage | null;
  experiments: ExperimentStatsMessage[];
}

/** grpc.health.v1 serving status names. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** grpc.health.v1.HealthCheckRequest. */
export interface HealthCheckRequestMessage {
  service: string;
}

/** grpc.health.v1.HealthCheckResponse. */
export interface HealthCheckResponseMessage {
  status: ServingStatus;
}

/** The ParameterServer service's methods with their wire types. */
export interface ParameterServerMethods {
  Init: grpc.MethodDefinition<InitRequestMessage, InitResponseMessage>;
  Pull: grpc.MethodDefinition<PullRequestMessage, PullResponseMessage>;
  Push: grpc.MethodDefinition<PushRequestMessage, PushResponseMessage>;
  Stats: grpc.MethodDefinition<StatsRequestMessage, StatsResponseMessage>;
}

/** The Health service's methods with their wire types. */
export interface HealthMethods {
  Check: grpc.MethodDefinition<HealthCheckRequestMessage, HealthCheckResponseMessage>;
  Watch: grpc.MethodDefinition<HealthCheckRequestMessage, HealthCheckResponseMessage>;
}

/** Fully-qualified name of the parameter-server service (also its name for health checks). */
export const PARAMETER_SERVER_SERVICE = 'nasrl.ps.v1.ParameterServer';
/** Fully-qualified name of the standard health service. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

const PS_PROTO = 'nasrl/ps/v1/param_server.proto';
const HEALTH_PROTO = 'grpc/health/v1/health.proto';

/** Options the loader uses; the wire types above depend on them. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

/**
 * Finds the repository's `proto/` folder: `explicit` when given, otherwise the nearest ancestor of this file
 * that has one. Deployments that ship only `dist/` must copy `proto/` next to it or pass the path.
 */
export function findProtoDir(explicit?: string): string {
  if (explicit) {
    if (!fs.existsSync(path.join(explicit, PS_PROTO))) throw new ParameterServerConfigError(`proto dir ${explicit} has no ${PS_PROTO}`);
    return explicit;
  }
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, PS_PROTO))) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new ParameterServerConfigError(`cannot find proto/${PS_PROTO} above ${__dirname}; pass protoDir`);
}

/** Loaded service definitions. */
export interface LoadedProtos {
  parameterServer: ParameterServerMethods;
  health: HealthMethods;
}

const cache = new Map<string, LoadedProtos>();

/** Loads (once per folder) the parameter-server and health service definitions. */
export function loadProtos(protoDir?: string): LoadedProtos {
  const dir = findProtoDir(protoDir);
  const hit = cache.get(dir);
  if (hit) return hit;
  const def = protoLoader.loadSync([PS_PROTO, HEALTH_PROTO], { ...LOADER_OPTIONS, includeDirs: [dir] });
  const loaded: LoadedProtos = {
    parameterServer: def[PARAMETER_SERVER_SERVICE] as unknown as ParameterServerMethods,
    health: def[HEALTH_SERVICE] as unknown as HealthMethods,
  };
  cache.set(dir, loaded);
  return loaded;
}
