import { ParameterServerConfigError } from './errors';

/** Adam hyper-parameters (Kingma & Ba 2015, Algorithm 1). */
export interface AdamOptions {
  /** Step size α. Default 0.0006 (the paper's controller; 0.0005 for the recurrent-cell search). */
  learningRate?: number;
  /** Decay of the first-moment estimate. Default 0.9. */
  beta1?: number;
  /** Decay of the second-moment estimate. Default 0.999. */
  beta2?: number;
  /** Added to √v̂ to avoid division by zero. Default 1e-8. */
  epsilon?: number;
}

/** Adam options with every default filled in. */
export type CompiledAdamOptions = Required<AdamOptions>;

/** Defaults of `AdamOptions`. */
export const ADAM_DEFAULTS: CompiledAdamOptions = { learningRate: 0.0006, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Fills in defaults and checks ranges; throws ParameterServerConfigError naming the bad option. */
export function compileAdamOptions(o: AdamOptions = {}): CompiledAdamOptions {
  const c = { ...ADAM_DEFAULTS, ...stripUndefined(o) };
  if (!(c.learningRate > 0) || !Number.isFinite(c.learningRate)) throw new ParameterServerConfigError(`learningRate must be a positive number, got ${c.learningRate}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw new ParameterServerConfigError(`beta1 must be in [0, 1), got ${c.beta1}`);
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw new ParameterServerConfigError(`beta2 must be in [0, 1), got ${c.beta2}`);
  if (!(c.epsilon > 0) || !Number.isFinite(c.epsilon)) throw new ParameterServerConfigError(`epsilon must be a positive number, got ${c.epsilon}`);
  return c;
}

/**
 * One Adam step in place: `t` is the 1-based step number (for bias correction), `gradScale` multiplies the
 * gradient (the staleness weight, or 1/k for an accumulated sum). Ascent or descent is the caller's sign
 * convention: this subtracts, like every optimizer minimising a loss, so controllers push ∇(−J).
 * Arithmetic is in float64 and rounded to float32 when stored, like TensorFlow.js on the CPU backend.
 */
export function adamStep(
  params: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  t: number,
  o: CompiledAdamOptions,
  gradScale = 1,
): void {
  const { learningRate, beta1, beta2, epsilon } = o;
  // θ -= α·m̂/(√v̂ + ε) with m̂ = m/c1, v̂ = v/c2, rearranged so the loop has one sqrt and one division.
  const stepSize = learningRate / (1 - Math.pow(beta1, t));
  const invSqrtC2 = 1 / Math.sqrt(1 - Math.pow(beta2, t));
  const a1 = 1 - beta1;
  const a2 = 1 - beta2;
  const n = params.length;
  for (let i = 0; i < n; i++) {
    const g = (grad[i] as number) * gradScale;
    const mi = beta1 * (m[i] as number) + a1 * g;
    const vi = beta2 * (v[i] as number) + a2 * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = (params[i] as number) - (stepSize * mi) / (Math.sqrt(vi) * invSqrtC2 + epsilon);
  }
}

/** How a gradient's weight depends on its staleness s. */
export type StalenessRule = 'none' | 'inverse' | 'inverse-sqrt';

/** The names accepted for `StalenessRule`, for configuration parsers. */
export const STALENESS_RULES: readonly StalenessRule[] = ['none', 'inverse', 'inverse-sqrt'];

/** Staleness policy: reject above `bound`, down-weight below it by `rule`. */
export interface StalenessOptions {
  /** Largest accepted staleness (current version − base version); larger is rejected. Default Infinity. */
  bound?: number;
  /** 'none' (weight 1), 'inverse' (1/(1+s)) or 'inverse-sqrt' (1/√(1+s)). Default 'none', as in the paper. */
  rule?: StalenessRule;
}

/** Staleness options with defaults filled in. */
export type CompiledStalenessOptions = Required<StalenessOptions>;

/** Fills in defaults and checks the bound and rule; throws ParameterServerConfigError. */
export function compileStalenessOptions(o: StalenessOptions = {}): CompiledStalenessOptions {
  const c: CompiledStalenessOptions = { bound: Infinity, rule: 'none', ...stripUndefined(o) };
  if (!(c.bound >= 0) || (Number.isFinite(c.bound) && !Number.isInteger(c.bound))) {
    throw new ParameterServerConfigError(`staleness bound must be a non-negative integer or Infinity, got ${c.bound}`);
  }
  if (!STALENESS_RULES.includes(c.rule)) {
    throw new ParameterServerConfigError(`staleness rule must be one of ${STALENESS_RULES.join(', ')}, got '${String(c.rule)}'`);
  }
  return c;
}

/**
 * The factor a gradient with staleness `s` is multiplied by. Scaling the gradient (not the learning rate)
 * lowers a stale gradient's share of Adam's moment estimates relative to fresh ones, and composes with the
 * accumulate mode, where the mean becomes a weighted mean.
 */
export function stalenessWeight(rule: StalenessRule, s: number): number {
  switch (rule) {
    case 'none':
      return 1;
    case 'inverse':
      return 1 / (1 + s);
    case 'inverse-sqrt':
      return 1 / Math.sqrt(1 + s);
  }
}

/** Copies an object without its undefined-valued keys, so spreading it over defaults keeps the defaults. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o) as [keyof T, T[keyof T]][]) if (v !== undefined) out[k] = v;
  return out;
}
