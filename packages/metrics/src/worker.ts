import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TRAINING_SECONDS_BUCKETS } from './registry';

/** How a child failed: refused (non-retryable: too large, not in the table, invalid) or any other error. */
export type ChildFailureReason = 'refused' | 'error';

/** The worker's metrics, fed from the BullMQ worker's events. */
export interface WorkerMetrics {
  /** A child job became active; `attemptsStarted` > 1 counts as a retry. */
  childStarted(attemptsStarted: number): void;
  /** A child finished with a result (`imagesPerSecond` when the evaluator measured it; table lookups report 0). */
  childCompleted(r: { readonly seconds: number; readonly cached: boolean; readonly imagesPerSecond?: number }): void;
  /** A child failed. */
  childFailed(reason: ChildFailureReason): void;
  /** A dead worker's child was recovered (it will run again): a retry. */
  childRecovered(): void;
}

/** Registers the worker's metrics (nasrl_child_training_seconds, nasrl_worker_busy, ...) on `registry`. */
export function workerMetrics(registry: Registry, now: () => number = Date.now): WorkerMetrics {
  const registers = [registry];
  const training = new Histogram({ name: 'nasrl_child_training_seconds', help: 'Training time of children this worker evaluated (cache hits left out)', buckets: [...TRAINING_SECONDS_BUCKETS], registers });
  const imagesPerSecond = new Gauge({ name: 'nasrl_worker_images_per_second', help: 'Training throughput of the last child (0 for table evaluations)', registers });
  const busy = new Gauge({ name: 'nasrl_worker_busy', help: '1 while a child is active on this worker', registers });
  const completed = new Counter({ name: 'nasrl_children_completed_total', help: 'Children this worker completed, by whether the reward came from the cache', labelNames: ['cached'], registers });
  const failures = new Counter({ name: 'nasrl_child_failures_total', help: 'Children that failed on this worker, by reason', labelNames: ['reason'], registers });
  const retries = new Counter({ name: 'nasrl_child_retries_total', help: 'Children started again after a failed attempt or recovered after a stall', registers });
  let activeSince: number | null = null;
  const account = (counter: Counter): void => {
    if (activeSince === null) return;
    const t = now();
    counter.inc(Math.max(0, (t - activeSince) / 1000));
    activeSince = t;
  };
  const busySeconds: Counter = new Counter({
    name: 'nasrl_worker_busy_seconds_total',
    help: 'Seconds this worker spent with a child active',
    registers,
    collect() {
      account(busySeconds);
    },
  });
  // Present from the first scrape, so rates and dashboards see zeros instead of gaps.
  busy.set(0);
  imagesPerSecond.set(0);
  for (const cached of ['true', 'false']) completed.inc({ cached }, 0);
  for (const reason of ['refused', 'error']) failures.inc({ reason }, 0);
  const idle = (): void => {
    account(busySeconds);
    activeSince = null;
    busy.set(0);
  };
  return {
    childStarted(attemptsStarted) {
      account(busySeconds);
      activeSince = now();
      busy.set(1);
      if (attemptsStarted > 1) retries.inc();
    },
    childCompleted(r) {
      idle();
      completed.inc({ cached: String(r.cached) });
      if (!r.cached && Number.isFinite(r.seconds)) training.observe(r.seconds);
      imagesPerSecond.set(typeof r.imagesPerSecond === 'number' && Number.isFinite(r.imagesPerSecond) ? r.imagesPerSecond : 0);
    },
    childFailed(reason) {
      idle();
      failures.inc({ reason });
    },
    childRecovered() {
      retries.inc();
    },
  };
}
