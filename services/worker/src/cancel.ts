/**
 * Why the worker process cancelled a child's evaluation; the reason travels with the abort signal into the
 * sandbox (processor.ts), which decides from it what becomes of the job.
 */
export const CANCEL_REASONS = {
  /** SIGINT/SIGTERM: the job goes back to wait, without spending an attempt, for another worker to take. */
  shutdown: 'worker-shutdown',
  /** `nasrl stop`: the job fails for good with ExperimentStoppedError. */
  stopped: 'experiment-stopped',
  /** The job was removed from Redis: nothing is left to report to. */
  removed: 'job-removed',
  /** The lock could not be renewed: the job is someone else's now (retried after it was found stalled). */
  lockLost: 'lock-lost',
} as const;

/** One of CANCEL_REASONS. */
export type CancelReason = (typeof CANCEL_REASONS)[keyof typeof CANCEL_REASONS];

/** The reason of an aborted signal, when it is one of ours. */
export function cancelReason(signal: AbortSignal | undefined): CancelReason | undefined {
  const reason: unknown = signal?.reason;
  return Object.values(CANCEL_REASONS).find((r) => r === reason);
}
