import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PERPLEXITY_BUCKETS, REWARD_BUCKETS, STALENESS_BUCKETS } from './registry';

/** What a controller step processor reports after completing a step (matches @nasrl/cluster's StepObservation). */
export interface StepObservation {
  readonly experiment: string;
  /** Raw rewards of the children with a result, as the workers reported them. */
  readonly rawRewards: readonly number[];
  /** Validation accuracies of the children with a result. */
  readonly accuracies: readonly number[];
  /** Children of the step without a result. */
  readonly failedChildren: number;
  /** EMA (decay 0.9) of raw rewards kept by the step processor, after this step; NaN before any reward. */
  readonly rewardMovingAverage: number;
  /** The shared baseline after the step, in scaled reward units; NaN when no child had a result. */
  readonly baseline: number;
  /** Staleness each shard reported for the step's push (duplicates and refused pushes left out). */
  readonly stalenesses: readonly number[];
  /** Shards that refused the step's push as stale, where the step was dropped, and why. */
  readonly droppedPushes: readonly { readonly shard: number; readonly reason: string }[];
}

/** BullMQ job counts by queue name, then by state. */
export type QueueJobCounts = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Options of `controllerMetrics`. */
export interface ControllerMetricsOptions {
  /** Reads the job counts of the queues for `nasrl_queue_jobs`; called on scrape at most once per `queueCacheMs`. */
  readonly queueJobCounts?: () => Promise<QueueJobCounts>;
  /** How long job counts (and reservation counts) are reused between scrapes, in milliseconds. Default 5000. */
  readonly queueCacheMs?: number;
  /**
   * Reads, per experiment, the budget reservations not yet enqueued as a step, for
   * `nasrl_reservations_outstanding` (a count that stays above zero marks a replica that died holding one).
   */
  readonly outstandingReservations?: () => Promise<Readonly<Record<string, number>>>;
  /**
   * The search space of an experiment ('conv', 'rnn', ...), undefined when not known. Experiments of space
   * 'rnn' also record `nasrl_child_perplexity` and `nasrl_best_perplexity`: their accuracy is 1 / validation
   * perplexity. Default: no space is known, and no experiment records perplexity.
   */
  readonly spaceOf?: (experiment: string) => string | undefined;
}

/** The controller's metrics, with the hooks @nasrl/cluster's replica and step processor call. */
export interface ControllerMetrics {
  /** A replica sampled a batch: counts it and sets the mean entropy. */
  sampled(experiment: string, entropies: readonly number[]): void;
  /** A step processor completed a step. */
  stepCompleted(o: StepObservation): void;
}

/** The states `nasrl_queue_jobs` reports for each queue. */
export const QUEUE_STATES: readonly string[] = ['waiting', 'active', 'delayed', 'failed', 'completed', 'waiting-children'];

/**
 * Registers the controller's metrics (nasrl_child_reward, nasrl_baseline, nasrl_queue_jobs, ...; for rnn
 * experiments nasrl_child_perplexity and nasrl_best_perplexity) on `registry`.
 */
export function controllerMetrics(registry: Registry, options: ControllerMetricsOptions = {}): ControllerMetrics {
  const registers = [registry];
  const exp = ['experiment'];
  const reward = new Histogram({ name: 'nasrl_child_reward', help: 'Raw rewards of evaluated children', labelNames: exp, buckets: [...REWARD_BUCKETS], registers });
  const movingAverage = new Gauge({ name: 'nasrl_reward_moving_average', help: 'Exponential moving average (decay 0.9) of raw child rewards seen by this process\'s step processor', labelNames: exp, registers });
  const baseline = new Gauge({ name: 'nasrl_baseline', help: 'Shared EMA baseline after the last step this process completed, in scaled reward units', labelNames: exp, registers });
  const bestAccuracy = new Gauge({ name: 'nasrl_best_accuracy', help: 'Best child validation accuracy seen by this process', labelNames: exp, registers });
  const perplexity = new Histogram({
    name: 'nasrl_child_perplexity',
    help: 'Validation perplexity of evaluated language-model children (rnn experiments only; diverged children left out)',
    labelNames: exp, buckets: [...PERPLEXITY_BUCKETS], registers,
  });
  const bestPerplexity = new Gauge({ name: 'nasrl_best_perplexity', help: 'Lowest child validation perplexity seen by this process (rnn experiments only)', labelNames: exp, registers });
  const sampledTotal = new Counter({ name: 'nasrl_architectures_sampled_total', help: 'Architectures sampled by this process\'s replica', labelNames: exp, registers });
  const evaluatedTotal = new Counter({ name: 'nasrl_architectures_evaluated_total', help: 'Children with a result in steps completed by this process', labelNames: exp, registers });
  const steps = new Counter({ name: 'nasrl_controller_steps_total', help: 'Steps completed by this process\'s step processor', labelNames: exp, registers });
  const entropy = new Gauge({ name: 'nasrl_policy_entropy', help: 'Mean policy entropy (nats) of the last sampled batch', labelNames: exp, registers });
  const staleness = new Histogram({ name: 'nasrl_gradient_staleness', help: 'Staleness (versions) the shards reported for this process\'s pushes', labelNames: exp, buckets: [...STALENESS_BUCKETS], registers });
  const failures = new Counter({ name: 'nasrl_child_failures_total', help: 'Children of completed steps without a result', labelNames: exp, registers });
  const dropped = new Counter({
    name: 'nasrl_step_pushes_dropped_total',
    help: 'Step pushes a shard refused as stale (reason: shard-behind, over-bound, below-floor): the step was applied on the other shards only',
    labelNames: ['experiment', 'shard', 'reason'], registers,
  });

  const cacheMs = options.queueCacheMs ?? 5_000;
  const jobCounts = cachedReader(options.queueJobCounts, cacheMs, {} as QueueJobCounts);
  new Gauge({
    name: 'nasrl_queue_jobs',
    help: 'BullMQ jobs by queue and state (read on scrape, cached briefly)',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      for (const [queue, counts] of Object.entries(await jobCounts())) {
        for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  const reservations = cachedReader(options.outstandingReservations, cacheMs, {} as Readonly<Record<string, number>>);
  new Gauge({
    name: 'nasrl_reservations_outstanding',
    help: 'Budget reservations not yet enqueued as a step, by experiment (read on scrape, cached briefly)',
    labelNames: exp,
    registers,
    async collect() {
      for (const [experiment, n] of Object.entries(await reservations())) this.set({ experiment }, n);
    },
  });

  const best = new Map<string, number>();
  // An rnn child's accuracy is 1 / its validation perplexity (@nasrl/evaluate's LmEvaluator).
  const languageModel = (experiment: string): boolean => options.spaceOf?.(experiment) === 'rnn';
  return {
    sampled(experiment, entropies) {
      sampledTotal.inc({ experiment }, entropies.length);
      if (entropies.length > 0) entropy.set({ experiment }, entropies.reduce((a, b) => a + b, 0) / entropies.length);
    },
    stepCompleted(o) {
      const experiment = o.experiment;
      steps.inc({ experiment });
      evaluatedTotal.inc({ experiment }, o.rawRewards.length);
      failures.inc({ experiment }, o.failedChildren);
      for (const r of o.rawRewards) if (Number.isFinite(r)) reward.observe({ experiment }, r);
      for (const s of o.stalenesses) if (Number.isFinite(s) && s >= 0) staleness.observe({ experiment }, s);
      for (const d of o.droppedPushes) dropped.inc({ experiment, shard: String(d.shard), reason: d.reason });
      if (Number.isFinite(o.rewardMovingAverage)) movingAverage.set({ experiment }, o.rewardMovingAverage);
      if (Number.isFinite(o.baseline)) baseline.set({ experiment }, o.baseline);
      for (const a of o.accuracies) {
        if (Number.isFinite(a) && a > (best.get(experiment) ?? -Infinity)) {
          best.set(experiment, a);
          bestAccuracy.set({ experiment }, a);
          if (languageModel(experiment)) bestPerplexity.set({ experiment }, 1 / a);
        }
      }
      if (languageModel(experiment)) {
        // A diverged child reports accuracy 0: no perplexity to observe (its failure shows in its reward).
        for (const a of o.accuracies) if (Number.isFinite(a) && a > 0) perplexity.observe({ experiment }, 1 / a);
      }
    },
  };
}

// A reader called on scrape: reuses its last answer for `cacheMs`, and keeps it when a read fails (Redis down),
// so that a scrape reports the last known values rather than failing.
function cachedReader<T>(read: (() => Promise<T>) | undefined, cacheMs: number, initial: T): () => Promise<T> {
  let cachedAt = -Infinity;
  let cached = initial;
  return async () => {
    if (read && Date.now() - cachedAt >= cacheMs) {
      try {
        cached = await read();
      } catch {
        // keep the last values
      }
      cachedAt = Date.now();
    }
    return cached;
  };
}
