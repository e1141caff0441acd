/**
 * The REINFORCE baseline: an exponential moving average of rewards, b ← decay·b + (1 − decay)·R. Its first
 * value is the first reward seen. The state is a plain object so that replicas can share it (Redis).
 */
export interface BaselineState {
  readonly value: number;
  readonly count: number;
  /** EMA of squared advantages, kept when advantages are normalised. */
  readonly meanSquare?: number;
}

/** A fresh baseline state: no reward seen yet. */
export const EMPTY_BASELINE: BaselineState = { value: 0, count: 0 };

/** The baseline after seeing `rewards` in order. */
export function updateBaseline(state: BaselineState, rewards: readonly number[], decay: number): BaselineState {
  let { value, count } = state;
  for (const r of rewards) {
    value = count === 0 ? r : decay * value + (1 - decay) * r;
    count++;
  }
  return state.meanSquare === undefined ? { value, count } : { value, count, meanSquare: state.meanSquare };
}

/**
 * The value to subtract from a reward: the baseline before this batch, or (when no reward has been seen yet)
 * the batch's mean, so that the very first step is not a push towards everything it sampled.
 */
export function baselineFor(state: BaselineState, rewards: readonly number[]): number {
  if (state.count > 0) return state.value;
  return rewards.length === 0 ? 0 : rewards.reduce((a, b) => a + b, 0) / rewards.length;
}
