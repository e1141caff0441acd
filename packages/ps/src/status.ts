import * as grpc from '@grpc/grpc-js';
import {
  InvalidRequestError,
  LayoutMismatchError,
  ShardCapacityError,
  ShardClosedError,
  ShardRpcError,
  StaleGradientError,
  UnknownExperimentError,
} from './errors';

/** A gRPC status to answer with. */
export interface StatusAnswer {
  code: grpc.status;
  details: string;
}

/** Metadata key carrying the staleness of a rejected push, so the client can report it without parsing text. */
export const STALENESS_METADATA_KEY = 'nasrl-staleness';

/** Metadata key carrying why a push was refused as stale (a StaleReason). */
export const STALE_REASON_METADATA_KEY = 'nasrl-stale-reason';

/**
 * The one place that maps this package's errors to gRPC status codes. Anything unexpected becomes INTERNAL
 * with its message, so a bug shows up in the caller's error instead of a bare "unknown error".
 */
export function toGrpcStatus(err: unknown): StatusAnswer {
  const details = err instanceof Error ? err.message : String(err);
  if (err instanceof InvalidRequestError) return { code: grpc.status.INVALID_ARGUMENT, details };
  if (err instanceof UnknownExperimentError) return { code: grpc.status.NOT_FOUND, details };
  if (err instanceof StaleGradientError) return { code: grpc.status.FAILED_PRECONDITION, details };
  if (err instanceof LayoutMismatchError) return { code: grpc.status.FAILED_PRECONDITION, details };
  if (err instanceof ShardClosedError) return { code: grpc.status.UNAVAILABLE, details };
  if (err instanceof ShardCapacityError) return { code: grpc.status.RESOURCE_EXHAUSTED, details };
  return { code: grpc.status.INTERNAL, details: `internal error: ${details}` };
}

/** Turns a domain error into the error object a grpc-js unary callback expects. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const { code, details } = toGrpcStatus(err);
  const metadata = new grpc.Metadata();
  if (err instanceof StaleGradientError) {
    metadata.set(STALENESS_METADATA_KEY, String(err.staleness));
    metadata.set(STALE_REASON_METADATA_KEY, err.reason);
  }
  return { code, details, metadata };
}

/** Codes after which the same call may succeed (every RPC of this service is idempotent). */
export function isRetryableCode(code: grpc.status): boolean {
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
}

/** Wraps a failed call's status in a ShardRpcError naming the shard. */
export function fromServiceError(err: grpc.ServiceError, shardIndex: number, address: string): ShardRpcError {
  const codeName = grpc.status[err.code] ?? `code ${err.code}`;
  return new ShardRpcError(shardIndex, address, err.code, codeName, err.details || err.message, isRetryableCode(err.code));
}
