import { UnrecoverableError, WaitingError } from 'bullmq';
import { ExperimentStoppedError, isNonRetryable, type ChildResult } from '@nasrl/queue';
import { CANCEL_REASONS, cancelReason } from './cancel';
import type { ChildProcessor } from './child-processor';
import type { LogRecord } from './log';

/** What the handler needs of a job: a BullMQ Job in the worker process, or a SandboxedJob in the sandbox. */
export interface HandledJob {
  readonly id?: string | undefined;
  readonly data: unknown;
  updateProgress(progress: object): Promise<unknown>;
  moveToWait(token?: string): Promise<unknown>;
}

/**
 * The processor function of child jobs, the same in the sandbox (one training child per process) and in
 * the worker process itself (several simulated children at once): evaluates the job with `processor`, and
 * turns cancellations and failures into what BullMQ should do with the job. A child cancelled by the
 * worker's shutdown goes back to wait without spending an attempt; non-retryable failures become
 * UnrecoverableError so that BullMQ does not retry them.
 */
export function childJobHandler(processor: ChildProcessor, log: (record: LogRecord) => void) {
  return async (job: HandledJob, token?: string, signal?: AbortSignal): Promise<ChildResult> => {
    try {
      return await processor.process(job.data, {
        ...(signal ? { signal } : {}),
        progress: async (report) => void (await job.updateProgress({ ...report })),
      });
    } catch (caught) {
      let err = caught;
      const cancelled = signal?.aborted ? cancelReason(signal) : undefined;
      if (cancelled !== undefined) log({ event: 'child_cancelled', job: job.id, reason: cancelled, message: caught instanceof Error ? caught.message : String(caught) });
      if (cancelled === CANCEL_REASONS.shutdown && token !== undefined) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (cancelled === CANCEL_REASONS.stopped) err = new ExperimentStoppedError(String((job.data as { experiment?: unknown }).experiment));
      const e = err instanceof Error ? err : new Error(String(err));
      log({ event: 'child_error', job: job.id, level: 'warn', error: `${e.name}: ${e.message}`, retryable: !isNonRetryable(e) });
      if (isNonRetryable(e)) throw new UnrecoverableError(`${e.name}: ${e.message}`);
      throw e;
    }
  };
}
