import { baselineFor, EMPTY_BASELINE, updateBaseline, type BaselineState } from './baseline';
import { ControllerConfigError } from './errors';
import type { ControllerPolicy, SampledArchitecture } from './policy';
import type { NamedTensor } from './tensors';

/** REINFORCE options (SPEC.md section 2). */
export interface ReinforceOptions {
  /** Decay of the EMA baseline. Default 0.95. */
  baselineDecay?: number;
  /** Weight of the entropy bonus added to the objective. Default 0. */
  entropyWeight?: number;
  /**
   * Divide each advantage by the root of an EMA (same decay as the baseline) of squared advantages, so the
   * update keeps its size as the rewards of a converging policy draw closer together. Default false.
   */
  normalizeAdvantages?: boolean;
}

export const REINFORCE_DEFAULTS: Required<ReinforceOptions> = { baselineDecay: 0.95, entropyWeight: 0, normalizeAdvantages: false };

/** Fills defaults and checks ranges; throws ControllerConfigError naming the option. */
export function compileReinforceOptions(options: ReinforceOptions = {}): Required<ReinforceOptions> {
  const o = { ...REINFORCE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<ReinforceOptions>;
  if (!(o.baselineDecay >= 0 && o.baselineDecay < 1)) throw new ControllerConfigError(`baselineDecay: expected a number in [0, 1), got ${o.baselineDecay}`);
  if (!Number.isFinite(o.entropyWeight) || o.entropyWeight < 0) throw new ControllerConfigError(`entropyWeight: expected a number >= 0, got ${o.entropyWeight}`);
  return o;
}

/** The result of one REINFORCE step's gradient computation. */
export interface ReinforceStep {
  readonly gradients: NamedTensor[];
  readonly loss: number;
  /** The baseline subtracted from each reward. */
  readonly baseline: number;
  /** The baseline state after this step's rewards (to store, or share between replicas). */
  readonly nextBaseline: BaselineState;
}

/**
 * One REINFORCE step: ∇J ≈ (1/m) Σ_k Σ_t ∇ log P(a_t) · (R_k − b) for the m sampled architectures, with b the
 * EMA baseline before this step. Returns the gradient of the loss to *descend* (the negated objective).
 */
export function reinforceStep(
  policy: ControllerPolicy,
  samples: readonly SampledArchitecture[],
  rewards: readonly number[],
  baseline: BaselineState = EMPTY_BASELINE,
  options: ReinforceOptions = {},
): ReinforceStep {
  const o = compileReinforceOptions(options);
  if (samples.length !== rewards.length) throw new ControllerConfigError(`reinforceStep: ${samples.length} samples but ${rewards.length} rewards`);
  if (rewards.some((r) => !Number.isFinite(r))) throw new ControllerConfigError('reinforceStep: a reward is not finite');
  const layers = samples[0]?.layers;
  if (samples.some((s) => s.layers !== layers)) throw new ControllerConfigError('reinforceStep: the samples of one step must share their depth');
  const b = baselineFor(baseline, rewards);
  const advantages = rewards.map((r) => r - b);
  let next = updateBaseline(baseline, rewards, o.baselineDecay);
  let scale = 1;
  if (o.normalizeAdvantages) {
    const batchSquare = advantages.reduce((a, x) => a + x * x, 0) / advantages.length;
    const square = baseline.count > 0 && baseline.meanSquare !== undefined ? o.baselineDecay * baseline.meanSquare + (1 - o.baselineDecay) * batchSquare : batchSquare;
    next = { ...next, meanSquare: square };
    scale = square > 0 ? 1 / Math.sqrt(square) : 1;
  }
  const { loss, gradients } = policy.gradient(
    samples.map((s, k) => ({ tokens: s.tokens, advantage: (advantages[k] as number) * scale })),
    layers,
    o.entropyWeight,
  );
  return { gradients, loss, baseline: b, nextBaseline: next };
}

/**
 * The cost factor of a cost-aware reward, (cost / target)^weight (MnasNet): 1 at the target, below 1 above
 * it for a negative weight. A cost that is not positive and finite (unknown) gives 1.
 */
export function costFactor(cost: number, target: number, weight: number): number {
  if (!(cost > 0) || !Number.isFinite(cost) || weight === 0) return 1;
  return (cost / target) ** weight;
}

/**
 * The reward REINFORCE sees: (scale · reward)^power, sign kept. Scaling puts accuracies in [0, 1]; a power
 * above 1 widens the gaps between the best children (the paper cubes CIFAR-10 accuracies).
 */
export function shapeReward(reward: number, scale = 1, power = 1): number {
  const r = reward * scale;
  return power === 1 ? r : Math.sign(r) * Math.abs(r) ** power;
}
