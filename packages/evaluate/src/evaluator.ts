import type { ChildResult } from '@nasrl/queue';

/** Progress of one child, reported to BullMQ (job.updateProgress) after each epoch. */
export interface ChildProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly validationAccuracy: number;
  /** Training images per second over the whole training, in the last report of a trained child (for metrics). */
  readonly imagesPerSecond?: number;
}

/** What an evaluator may use while it runs. */
export interface EvaluationContext {
  /**
   * Fires when the worker cancels the evaluation: it is shutting down, the experiment was stopped (`nasrl stop`),
   * the job was removed or its lock lost. An evaluator stops soon after (between batches) with EvaluationCancelledError.
   */
  readonly signal?: AbortSignal;
  progress(report: ChildProgress): Promise<void>;
}

/** A child to evaluate: the tokens and their decoded architecture. */
export interface ChildToEvaluate {
  readonly tokens: readonly number[];
  readonly layers: number;
  readonly arch: unknown;
}

/** An evaluation, before the worker adds its id and the cache flag. */
export type Evaluation = Omit<ChildResult, 'worker' | 'cached'>;

/** Turns an architecture into a reward: by training it, or by looking it up. */
export interface Evaluator {
  evaluate(child: ChildToEvaluate, context: EvaluationContext): Promise<Evaluation>;
}

/** Thrown when a job is cancelled or the worker closes mid-evaluation; retryable (the child is fine). */
export class EvaluationCancelledError extends Error {
  readonly retryable = true;
  constructor() {
    super('evaluation cancelled (job cancelled or worker shutting down); it will be retried');
    this.name = 'EvaluationCancelledError';
  }
}

/** Waits `ms`, or rejects with EvaluationCancelledError when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new EvaluationCancelledError());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new EvaluationCancelledError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
