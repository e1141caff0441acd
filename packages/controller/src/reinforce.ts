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
   * update keeps its size as the rewards of a converging policy draw closer together. Default false; the
   * cluster never normalises (docs/design.md, "The REINFORCE step"), only the tabular benchmarks may.
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

/** The advantages of one step's rewards, and the baseline state around the step. */
export interface StepAdvantages {
  /** The baseline subtracted from each reward: the EMA before the step, or the step's mean reward on the first. */
  readonly baseline: number;
  /** R_k − b per reward, in order; divided by the root of the EMA of squared advantages when normalised. */
  readonly advantages: number[];
  /** The baseline state the step started from. */
  readonly before: BaselineState;
  /** The baseline state after the step's rewards (to keep, or to share between replicas). */
  readonly after: BaselineState;
}

/**
 * The advantages of a step's rewards against the baseline state `before`: the one computation of REINFORCE's
 * R − b, for the tabular benchmarks (which keep the state themselves) and the cluster (whose state lives in
 * Redis: it passes the state the store returned as before the step). Pure: `before` is not changed.
 */
export function advantagesFor(rewards: readonly number[], before: BaselineState, options: Pick<ReinforceOptions, 'baselineDecay' | 'normalizeAdvantages'> = {}): StepAdvantages {
  const o = compileReinforceOptions(options);
  if (rewards.some((r) => !Number.isFinite(r))) throw new ControllerConfigError('advantagesFor: a reward is not finite');
  const baseline = baselineFor(before, rewards);
  const raw = rewards.map((r) => r - baseline);
  const after = updateBaseline(before, rewards, o.baselineDecay);
  if (!o.normalizeAdvantages || raw.length === 0) return { baseline, advantages: raw, before, after };
  const batchSquare = raw.reduce((a, x) => a + x * x, 0) / raw.length;
  const square = before.count > 0 && before.meanSquare !== undefined ? o.baselineDecay * before.meanSquare + (1 - o.baselineDecay) * batchSquare : batchSquare;
  const scale = square > 0 ? 1 / Math.sqrt(square) : 1;
  return { baseline, advantages: raw.map((a) => a * scale), before, after: { ...after, meanSquare: square } };
}

/**
 * The REINFORCE gradient of a step: ∇ of loss = −(1/m) Σ_k A_k Σ_t log P(a_t) − β·(1/m) Σ_k H_k at the policy's
 * current parameters, for the sampled tokens and their advantages A_k (advantagesFor). `layers` is the depth
 * the conv space sampled at (undefined for the other spaces). Returns the gradient to *descend*.
 */
export function reinforceGradient(
  policy: ControllerPolicy,
  samples: readonly { readonly tokens: readonly number[] }[],
  advantages: readonly number[],
  layers: number | undefined,
  entropyWeight = 0,
): { gradients: NamedTensor[]; loss: number } {
  if (samples.length !== advantages.length) throw new ControllerConfigError(`reinforceGradient: ${samples.length} samples but ${advantages.length} advantages`);
  return policy.gradient(samples.map((s, k) => ({ tokens: s.tokens, advantage: advantages[k] as number })), layers, entropyWeight);
}

/** The result of one REINFORCE step's gradient computation. */
export interface ReinforceStep {
  readonly gradients: NamedTensor[];
  readonly loss: number;
  /** The baseline subtracted from each reward. */
  readonly baseline: number;
  /** The advantage of each sample, as the gradient used it. */
  readonly advantages: number[];
  /** The baseline state after this step's rewards (to store, or share between replicas). */
  readonly nextBaseline: BaselineState;
}

/**
 * One REINFORCE step where the caller keeps the baseline state: advantagesFor, then reinforceGradient.
 * ∇J ≈ (1/m) Σ_k Σ_t ∇ log P(a_t) · (R_k − b) for the m sampled architectures, with b the EMA baseline before
 * this step. Returns the gradient of the loss to *descend* (the negated objective).
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
  const step = advantagesFor(rewards, baseline, o);
  const { loss, gradients } = reinforceGradient(policy, samples, step.advantages, layers, o.entropyWeight);
  return { gradients, loss, baseline: step.baseline, advantages: step.advantages, nextBaseline: step.after };
}
