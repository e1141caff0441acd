import { Job, type Queue, type QueueEvents } from 'bullmq';
import type { StepLog } from './step-processor';

/** What waiting for a step needs. */
export interface StepWaitOptions {
  readonly stepsQueue: Queue;
  readonly stepsEvents: QueueEvents;
  /** Times a failed step is put back to be processed again before the waiter gives up on it. */
  readonly retries: number;
  /** Where a failed step is reported (level warn). Default: nowhere. */
  readonly log?: StepLog;
}

/**
 * Waits until the step job `parentId` has completed, or `signal` aborts (the step is then left to the step
 * processors). A step that fails (its processor threw on every attempt, or BullMQ failed it as stalled: on a
 * busy machine its lock was lost more often than maxStalledCount allows) is reported and put back to be
 * processed again: its children's results and failures stay in the step's job, and the step processor
 * applies a step once, so processing it again repeats nothing. After `retries` failures the step is given
 * up (reported) and the waiter returns: a failed step must not stop the replica that waits for it.
 */
export async function waitForStep(parentId: string, o: StepWaitOptions, signal?: AbortSignal): Promise<void> {
  const job = await Job.fromId(o.stepsQueue, parentId);
  if (!job) throw new Error(`step job ${parentId} vanished from the steps queue`);
  for (let failures = 1; ; failures++) {
    let reason: string;
    try {
      await untilFinished(job, o.stepsEvents, signal);
      return;
    } catch (err) {
      if (signal?.aborted) return;
      // Only the step's own failure is handled here; anything else (the steps queue closing) is the caller's.
      if (!(await job.isFailed())) throw err;
      reason = err instanceof Error ? err.message : String(err);
    }
    if (failures > o.retries) {
      o.log?.({
        event: 'step-abandoned', level: 'warn', job: parentId, reason, failures,
        message: `step job ${parentId} failed ${failures} times (last: ${reason}); the replica goes on without it`,
      });
      return;
    }
    o.log?.({
      event: 'step-retried', level: 'warn', job: parentId, reason, failures,
      message: `step job ${parentId} failed (${reason}); it is put back to be processed with the children it has`,
    });
    // Another waiter for the same step (its first owner, slow but alive) may have put it back already.
    await job.retry('failed', { resetAttemptsMade: true }).catch(async (err: unknown) => {
      if (await job.isFailed()) throw err;
    });
  }
}

// Resolves when the job completes or the signal aborts; rejects with the job's failure reason when it fails.
async function untilFinished(job: Job, events: QueueEvents, signal?: AbortSignal): Promise<void> {
  const finished = job.waitUntilFinished(events);
  if (!signal) {
    await finished;
    return;
  }
  // The listener is removed once the step is done: a run of many steps must not pile them up on one signal.
  let onAbort = (): void => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([finished, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
