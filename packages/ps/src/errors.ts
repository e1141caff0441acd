/**
 * Errors of the parameter-server domain. The shard core throws the first group; `status.ts` maps each to a
 * gRPC status code (the only place that does), and the client turns a status back into `ShardRpcError`.
 */

/** Base of every error this package throws; `retryable` says whether the same call may succeed later. */
export abstract class ParameterServerError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Thrown when a request is malformed: unknown or missing tensor name, wrong shape or byte length, NaN/Inf,
 * an empty experiment or step id. The parameters are untouched. Not retryable: fix the caller (usually a
 * controller built for another search space) and send again.
 */
export class InvalidRequestError extends ParameterServerError {
  readonly retryable = false;
}

/**
 * Thrown when an experiment is not initialised on the shard. Not retryable as is: call `init` first (a shard
 * that lost its state without a checkpoint also answers this; re-initialising restarts that slice).
 */
export class UnknownExperimentError extends ParameterServerError {
  readonly retryable = false;
  constructor(readonly experiment: string, shardIndex: number) {
    super(`experiment '${experiment}' is not initialised on shard ${shardIndex}; call init first`);
  }
}

/**
 * Why a shard refused a push as stale:
 * - 'shard-behind': the base version is ahead of the shard's, which restarted from an older checkpoint and
 *   lost the updates after it; the gradient was computed at parameters the shard no longer has.
 * - 'over-bound': the staleness exceeds the shard's bound.
 * - 'below-floor': the base version is older than the step ids the shard remembers, so it cannot tell a new
 *   step from a repeated one.
 */
export type StaleReason = 'shard-behind' | 'over-bound' | 'below-floor';

/** Every StaleReason, for parsing it off the wire. */
export const STALE_REASONS: readonly StaleReason[] = ['shard-behind', 'over-bound', 'below-floor'];

/**
 * Thrown when a gradient was computed from a version too far behind the shard's current one, older than
 * the window of remembered step ids, or ahead of it (see StaleReason). Not retryable: pull fresh parameters
 * and compute a new gradient.
 */
export class StaleGradientError extends ParameterServerError {
  readonly retryable = false;
  constructor(message: string, readonly staleness: number, readonly bound: number, readonly reason: StaleReason) {
    super(message);
  }
}

/**
 * Thrown when a request was computed for another shard layout (index or count), or an Init brings a parameter
 * set whose names or shapes differ from the one the experiment already has. Not retryable: the caller's
 * configuration (shard addresses, shard count, search space) disagrees with the cluster's.
 */
export class LayoutMismatchError extends ParameterServerError {
  readonly retryable = false;
}

/**
 * Thrown while reading a checkpoint file that is truncated, fails its checksum or is otherwise malformed.
 * The store skips such a file and tries the next older one; not retryable.
 */
export class CorruptCheckpointError extends ParameterServerError {
  readonly retryable = false;
  constructor(readonly file: string, reason: string) {
    super(`checkpoint ${file} is unusable: ${reason}`);
  }
}

/** Thrown when the shard cannot reserve memory for another experiment's slice (RESOURCE_EXHAUSTED). */
export class ShardCapacityError extends ParameterServerError {
  readonly retryable = false;
}

/** Thrown when the shard is closing or closed; retryable against the restarted shard. */
export class ShardClosedError extends ParameterServerError {
  readonly retryable = true;
  constructor(shardIndex: number) {
    super(`shard ${shardIndex} is shutting down; retry after it restarts`);
  }
}

/**
 * Thrown by the client when a shard answered with an error status, or stayed unreachable after the retries.
 * `retryable` is true for UNAVAILABLE and DEADLINE_EXCEEDED (every RPC is idempotent, so the whole call may
 * be repeated); the message names the shard, its address and the status.
 */
export class ShardRpcError extends ParameterServerError {
  readonly retryable: boolean;
  constructor(
    readonly shardIndex: number,
    readonly address: string,
    readonly code: number,
    readonly codeName: string,
    details: string,
    retryable: boolean,
  ) {
    super(`shard ${shardIndex} (${address}) failed with ${codeName}: ${details}`);
    this.retryable = retryable;
  }
}

/** Thrown for invalid options given to a constructor in this package (not for RPC input); not retryable. */
export class ParameterServerConfigError extends ParameterServerError {
  readonly retryable = false;
}
