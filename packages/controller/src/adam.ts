import { ParameterMismatchError } from './errors';
import type { NamedTensor } from './tensors';

/** Adam hyper-parameters. The paper trains the controller with learning rate 0.0006. */
export interface AdamOptions {
  /** Default 0.0006. */
  learningRate?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
}

export const ADAM_DEFAULTS: Required<AdamOptions> = { learningRate: 0.0006, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * Adam on named Float32Arrays, in place: the optimizer of a local (single-process) controller. The parameter
 * servers apply the same rule to their slices.
 */
export class Adam {
  readonly options: Required<AdamOptions>;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private steps = 0;

  constructor(options: AdamOptions = {}) {
    this.options = { ...ADAM_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, x]) => x !== undefined)) };
  }

  /** Applies one step of `gradients` (scaled by `scale`) to `params`, matching by name. */
  apply(params: readonly NamedTensor[], gradients: readonly NamedTensor[], scale = 1): void {
    const { learningRate, beta1, beta2, epsilon } = this.options;
    this.steps++;
    const c1 = 1 - beta1 ** this.steps;
    const c2 = 1 - beta2 ** this.steps;
    const byName = new Map(params.map((p) => [p.name, p]));
    for (const g of gradients) {
      const p = byName.get(g.name);
      if (!p) throw new ParameterMismatchError(`gradient for unknown parameter "${g.name}"`);
      if (p.data.length !== g.data.length) throw new ParameterMismatchError(`gradient "${g.name}": expected ${p.data.length} values, got ${g.data.length}`);
      let m = this.m.get(g.name);
      let v = this.v.get(g.name);
      if (!m || !v) {
        m = new Float32Array(g.data.length);
        v = new Float32Array(g.data.length);
        this.m.set(g.name, m);
        this.v.set(g.name, v);
      }
      for (let i = 0; i < g.data.length; i++) {
        const gi = (g.data[i] as number) * scale;
        const mi = beta1 * (m[i] as number) + (1 - beta1) * gi;
        const vi = beta2 * (v[i] as number) + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p.data[i] = (p.data[i] as number) - (learningRate * (mi / c1)) / (Math.sqrt(vi / c2) + epsilon);
      }
    }
  }
}
