import type { AdamOptions, CompiledAdamOptions } from './optimizer';
import type { TensorSpec, WireTensor } from './tensor';

/** The shard layout a request was computed for; `shardCount` 0 means "not stated" and skips the check. */
export interface ShardLayout {
  shardIndex: number;
  shardCount: number;
}

/** Input of `ShardCore.init`. */
export interface InitInput {
  experiment: string;
  layout?: ShardLayout;
  tensors: readonly WireTensor[];
  /**
   * The experiment's Adam settings, kept with it; every setting left out is the shard's own. Absent: the
   * shard's settings, until an init that states them.
   */
  adam?: AdamOptions | null;
}

/** Result of `ShardCore.init`: whether this call created the experiment, and its version. */
export interface InitResult {
  created: boolean;
  version: number;
}

/** Result of `ShardCore.pull`: a consistent copy of the slice at `version`, tensors sorted by name. */
export interface PullResult {
  version: number;
  tensors: WireTensor[];
}

/** Input of `ShardCore.push`. */
export interface PushInput {
  experiment: string;
  layout?: ShardLayout;
  /** The controller replica that computed the gradient; for logs only. */
  replica: string;
  /** Unique and deterministic per controller step; a repeated id is acknowledged and ignored. */
  stepId: string;
  /** The shard version the gradients were computed from. */
  baseVersion: number;
  gradients: readonly WireTensor[];
}

/** What a push did: applied (version+1), accumulated (waiting for k), or duplicate (ignored). */
export type PushOutcome = 'applied' | 'accumulated' | 'duplicate';

/** Result of `ShardCore.push`. */
export interface PushResult {
  outcome: PushOutcome;
  /** Version after the push. */
  version: number;
  /** Version at arrival minus base version. */
  staleness: number;
  /** Factor the gradient was multiplied by (1 for duplicates). */
  weight: number;
}

/** Cumulative counters of one experiment on one shard (kept in checkpoints). */
export interface ExperimentCounters {
  pushesApplied: number;
  pushesAccumulated: number;
  pushesDuplicate: number;
  pushesRejectedStale: number;
  pushesRejectedInvalid: number;
}

/** Stats of one experiment on one shard. */
export interface ExperimentStats extends ExperimentCounters {
  experiment: string;
  version: number;
  parameterCount: number;
  tensorCount: number;
  pendingGradients: number;
  checkpointedVersion: number;
  /** The Adam settings the experiment's pushes are applied with. */
  adam: CompiledAdamOptions;
}

/** One tensor's full state in a snapshot: values, Adam moments and (accumulate mode) the pending sum. */
export interface TensorState extends TensorSpec {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  accumulator: Float32Array | null;
}

/** Everything a shard knows about one experiment; what a checkpoint stores. */
export interface ExperimentSnapshot {
  experiment: string;
  version: number;
  pendingGradients: number;
  /** Pushes whose base version is below this were forgotten from `steps` and are rejected as stale. */
  stepFloor: number;
  /** Remembered step ids with the version at which each arrived, oldest first. */
  steps: [string, number][];
  counters: ExperimentCounters;
  /** The Adam settings the experiment was initialised with; null: none stated (the shard's own apply). */
  adam: CompiledAdamOptions | null;
  tensors: TensorState[];
}

/** A shard's whole state. Arrays are live views: encode it before the next push (checkpoints do). */
export interface ShardSnapshot {
  shardIndex: number;
  shardCount: number;
  experiments: ExperimentSnapshot[];
}
