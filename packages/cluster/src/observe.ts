/** What a step processor reports after completing a step, for metrics. */
export interface StepObservation {
  readonly experiment: string;
  /** Raw rewards of the children with a result, as the workers reported them. */
  readonly rawRewards: readonly number[];
  /** Validation accuracies of the children with a result. */
  readonly accuracies: readonly number[];
  /** Children of the step without a result. */
  readonly failedChildren: number;
  /** EMA (decay 0.9) of raw rewards seen by this step processor, after this step; NaN before any reward. */
  readonly rewardMovingAverage: number;
  /** The shared baseline after the step, in scaled reward units; NaN when no child had a result. */
  readonly baseline: number;
  /** Staleness each shard reported for the step's push (duplicates and refused pushes left out). */
  readonly stalenesses: readonly number[];
  /** Shards that refused the step's push as stale, where the step was dropped, and why. */
  readonly droppedPushes: readonly { readonly shard: number; readonly reason: string }[];
}

/** Receives what a controller replica samples (@nasrl/metrics' controllerMetrics implements it). */
export interface SampleObserver {
  /** A replica sampled a batch of architectures with these policy entropies. */
  sampled(experiment: string, entropies: readonly number[]): void;
}

/** Receives completed steps (@nasrl/metrics' controllerMetrics implements it). */
export interface StepObserver {
  /** A step processor completed a step. */
  stepCompleted(o: StepObservation): void;
}

/** Decay of the raw-reward moving average a step processor keeps for `nasrl_reward_moving_average`. */
export const REWARD_AVERAGE_DECAY = 0.9;

/** Updates an EMA with each value in turn (the first value starts it); undefined stays undefined for none. */
export function movingAverage(previous: number | undefined, values: readonly number[], decay = REWARD_AVERAGE_DECAY): number | undefined {
  let ema = previous;
  for (const v of values) ema = ema === undefined ? v : decay * ema + (1 - decay) * v;
  return ema;
}
