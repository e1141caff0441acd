/**
 * The sandboxed processor of child jobs: BullMQ runs this file in a child process of the worker (main.ts), so
 * that long synchronous tensor work never delays the lock renewal done by the parent. The process is reused
 * for later jobs; experiments, datasets and the TensorFlow.js backend stay loaded between them.
 */
import { UnrecoverableError, WaitingError, type SandboxedJob } from 'bullmq';
import { ExperimentStore, ExperimentStoppedError, connectRedis, isNonRetryable, type ChildResult } from '@nasrl/queue';
import { CANCEL_REASONS, cancelReason } from './cancel';
import { ChildProcessor, defaultEvaluators } from './child-processor';
import { parseWorkerEnv } from './config';
import { jsonLogger } from './log';

// main.ts validated the same environment and passes its resolved worker id down, so this cannot fail there.
const config = parseWorkerEnv(process.env);
const log = jsonLogger(config.workerId, { sandbox: process.pid });
const redis = connectRedis(config.redisUrl, { name: `${config.workerId}-sandbox` });
const processor = new ChildProcessor(new ExperimentStore(redis), config.workerId, defaultEvaluators(config.tfBackend, log));

// When the worker process dies (SIGKILL, OOM), stop at once: its job is retried elsewhere once the lock expires,
// and an orphan finishing the same child would only compete with the retry.
process.on('disconnect', () => process.exit(1));
log({ event: 'sandbox_started', pid: process.pid });

/** Evaluates one child job; non-retryable failures become UnrecoverableError so BullMQ does not retry them. */
export default async function processChildJob(job: SandboxedJob, token?: string, signal?: AbortSignal): Promise<ChildResult> {
  try {
    return await processor.process(job.data, {
      ...(signal ? { signal } : {}),
      progress: (report) => job.updateProgress({ ...report }),
    });
  } catch (caught) {
    let err = caught;
    const cancelled = signal?.aborted ? cancelReason(signal) : undefined;
    if (cancelled !== undefined) log({ event: 'child_cancelled', job: job.id, reason: cancelled, message: caught instanceof Error ? caught.message : String(caught) });
    // The worker is shutting down: the job goes back to wait for another worker, without spending an attempt.
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
}
