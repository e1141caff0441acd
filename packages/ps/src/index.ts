/**
 * The parameter server of the controller: tensor codec, deterministic sharding, the shard core (Adam,
 * versions, step-id idempotency, staleness, accumulation), checkpoints, the gRPC server and the client.
 *
 * @example
 * ```ts
 * import { ParameterServerClient } from '@nasrl/ps';
 * const ps = new ParameterServerClient({ shards: ['10.0.0.5:7070', '10.0.0.6:7070'] });
 * await ps.init('cifar-1', initialTensors);            // idempotent; the first replica's values win
 * const { tensors, versions } = await ps.pull('cifar-1');
 * // ... sample, train children, compute gradients with the same names and shapes ...
 * const results = await ps.push('cifar-1', `step-${replica}-${n}`, replica, gradients, versions);
 * // results[s].status: 'applied' | 'accumulated' | 'duplicate' | 'rejected-stale'
 * ps.close();
 * ```
 *
 * A shard process (services/param-server) wires `ShardCore`, `CheckpointStore`, `Checkpointer` and
 * `ParameterServerServer` together.
 */
export {
  ParameterServerError,
  InvalidRequestError,
  UnknownExperimentError,
  StaleGradientError,
  LayoutMismatchError,
  CorruptCheckpointError,
  ShardClosedError,
  ShardCapacityError,
  ShardRpcError,
  ParameterServerConfigError,
  STALE_REASONS,
} from './errors';
export type { StaleReason } from './errors';
export type { NamedTensor, TensorSpec, WireTensor } from './tensor';
export {
  elementCount,
  encodeFloat32,
  decodeFloat32,
  decodeFloat32Into,
  float32BytesView,
  firstNonFinite,
  assertFinite,
  toWire,
  toWireView,
  fromWire,
  sameShape,
} from './tensor';
export type { ShardAssignment } from './sharding';
export { assignShards, splitByShard, compareCodePoints } from './sharding';
export type { AdamOptions, CompiledAdamOptions, StalenessRule, StalenessOptions, CompiledStalenessOptions } from './optimizer';
export {
  ADAM_DEFAULTS,
  STALENESS_RULES,
  compileAdamOptions,
  compileStalenessOptions,
  adamStep,
  stalenessWeight,
} from './optimizer';
export type { ArenaTensor } from './arena';
export { SliceArena, MAX_SLICE_VALUES } from './arena';
export type {
  ShardLayout,
  InitInput,
  InitResult,
  PullResult,
  PushInput,
  PushOutcome,
  PushResult,
  ExperimentCounters,
  ExperimentStats,
  TensorState,
  ExperimentSnapshot,
  ShardSnapshot,
} from './shard-types';
export type { ShardCoreOptions, CompiledShardCoreOptions, ShardChange } from './shard';
export { ShardCore, compileShardCoreOptions } from './shard';
export type { DecodedCheckpoint } from './checkpoint-format';
export { encodeCheckpoint, decodeCheckpoint } from './checkpoint-format';
export type { CheckpointStoreOptions, CheckpointFile, LoadedCheckpoint } from './checkpoint-store';
export { CheckpointStore } from './checkpoint-store';
export type { CheckpointerOptions } from './checkpointer';
export { Checkpointer } from './checkpointer';
export type { LogRecord, Logger } from './log';
export { silentLogger, jsonLineLogger } from './log';
export type { ServerTlsOptions, ClientTlsOptions } from './tls';
export { serverCredentials, clientCredentials } from './tls';
export type { ParameterServerServerOptions } from './server';
export { ParameterServerServer } from './server';
export type { RetryOptions, CompiledRetryOptions } from './retry';
export { compileRetryOptions, backoffMs } from './retry';
export type {
  ParameterServerClientOptions,
  ClientInitResult,
  ClientPullResult,
  ShardPushStatus,
  ShardPushResult,
  ShardStats,
} from './client';
export { ParameterServerClient } from './client';
export { toGrpcStatus, isRetryableCode } from './status';
export type { StatusAnswer } from './status';
export { findProtoDir, loadProtos, PARAMETER_SERVER_SERVICE, HEALTH_SERVICE } from './proto';
export type { LoadedProtos, ParameterServerMethods, HealthMethods, ServingStatus } from './proto';
