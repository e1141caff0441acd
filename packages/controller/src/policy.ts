import * as tf from '@tensorflow/tfjs-core';
// The umbrella package registers the gradients of the core ops (the tape needs them for the REINFORCE gradient).
import '@tensorflow/tfjs';
import type { Decision, SearchSpace } from '@nasrl/spaces';
import { ControllerConfigError, ParameterMismatchError } from './errors';
import { Rng } from './rng';
import { sizeOf, type NamedTensor } from './tensors';

/** Options of the controller policy (SPEC.md section 1). */
export interface PolicyOptions {
  /** LSTM units per layer (also the embedding size). Default 35. */
  hiddenSize?: number;
  /** Stacked LSTM layers. Default 2. */
  lstmLayers?: number;
  /** Parameters start uniform in [-initRange, initRange]. Default 0.08. */
  initRange?: number;
  /** Softmax temperature: logits are divided by it. Default 1. */
  temperature?: number;
  /** When > 0, logits become tanhConstant · tanh(logits) before the temperature (bounds confidence). Default 0 (off). */
  tanhConstant?: number;
  /** Seed of the initial parameters. Default 0. */
  initSeed?: number;
}

export type CompiledPolicyOptions = Required<PolicyOptions>;

const POLICY_DEFAULTS: CompiledPolicyOptions = { hiddenSize: 35, lstmLayers: 2, initRange: 0.08, temperature: 1, tanhConstant: 0, initSeed: 0 };

/** One sampled architecture: its tokens, the depth it was sampled at, log P(tokens) and the policy's entropy along the way. */
export interface SampledArchitecture {
  readonly tokens: number[];
  readonly layers: number;
  readonly logProb: number;
  readonly entropy: number;
}

/** A sampled architecture with its advantage R − b, as the REINFORCE gradient needs it. */
export interface ScoredArchitecture {
  readonly tokens: readonly number[];
  readonly advantage: number;
}

interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * Chooses the tokens of one decision. Categorical: `rows` picks from `probs()` (rows × choices, row-major).
 * Bernoulli (anchor points): one 0/1 pick per probability in `probs()` (rows × earlier layers).
 */
type Chooser = (probs: () => Float32Array, rows: number, choices: number, kind: 'categorical' | 'bernoulli') => Int32Array;

/**
 * The controller: a stacked LSTM that emits an architecture token by token, with a softmax head and an
 * embedding table per token type, and anchor points P(j → i) = sigmoid(vᵀ tanh(W_prev h_j + W_curr h_i)).
 * Parameters are plain tensors named like `lstm/0/kernel`; `parameters()` and `setParameters()` move them as
 * named Float32Arrays (what the parameter servers hold).
 */
export class ControllerPolicy {
  readonly options: CompiledPolicyOptions;
  private readonly specs: readonly ParamSpec[];
  private readonly params = new Map<string, tf.Tensor>();
  private readonly choiceCount = new Map<string, number>();
  private readonly usesAnchors: boolean;

  constructor(readonly space: SearchSpace, options: PolicyOptions = {}) {
    const o = { ...POLICY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as CompiledPolicyOptions;
    if (!Number.isInteger(o.hiddenSize) || o.hiddenSize < 1) throw new ControllerConfigError(`hiddenSize: expected a positive integer, got ${o.hiddenSize}`);
    if (!Number.isInteger(o.lstmLayers) || o.lstmLayers < 1) throw new ControllerConfigError(`lstmLayers: expected a positive integer, got ${o.lstmLayers}`);
    if (!(o.initRange > 0)) throw new ControllerConfigError(`initRange: expected a positive number, got ${o.initRange}`);
    if (!(o.temperature > 0)) throw new ControllerConfigError(`temperature: expected a positive number, got ${o.temperature}`);
    if (!(o.tanhConstant >= 0)) throw new ControllerConfigError(`tanhConstant: expected a number >= 0, got ${o.tanhConstant}`);
    this.options = o;
    const H = o.hiddenSize;
    const specs: ParamSpec[] = [{ name: 'go', shape: [1, H] }];
    for (let l = 0; l < o.lstmLayers; l++) {
      specs.push({ name: `lstm/${l}/kernel`, shape: [2 * H, 4 * H] }, { name: `lstm/${l}/bias`, shape: [4 * H] });
    }
    for (const type of space.tokenTypes) {
      this.choiceCount.set(type.name, type.choices.length);
      specs.push(
        { name: `embedding/${type.name}`, shape: [type.choices.length, H] },
        { name: `head/${type.name}/kernel`, shape: [H, type.choices.length] },
        { name: `head/${type.name}/bias`, shape: [type.choices.length] },
      );
    }
    this.usesAnchors = space.decisions(space.maxLayers).some((d) => d.kind === 'anchor');
    if (this.usesAnchors) {
      specs.push({ name: 'anchor/w_prev', shape: [H, H] }, { name: 'anchor/w_curr', shape: [H, H] }, { name: 'anchor/v', shape: [H, 1] });
    }
    this.specs = specs;
    const rng = new Rng(o.initSeed);
    for (const spec of specs) {
      const data = new Float32Array(sizeOf(spec.shape));
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-o.initRange, o.initRange);
      this.params.set(spec.name, tf.tensor(data, [...spec.shape]));
    }
  }

  /** Names and shapes of every parameter, in a fixed order. */
  parameterSpecs(): readonly ParamSpec[] {
    return this.specs;
  }

  /** A copy of every parameter as a named Float32Array. */
  parameters(): NamedTensor[] {
    return this.specs.map((s) => ({ name: s.name, shape: [...s.shape], data: this.param(s.name).dataSync() as Float32Array }));
  }

  /** Replaces parameters by name; every given tensor must match a parameter's name and shape and be finite. */
  setParameters(tensors: readonly NamedTensor[]): void {
    for (const t of tensors) {
      const spec = this.specs.find((s) => s.name === t.name);
      if (!spec) throw new ParameterMismatchError(`unknown controller parameter "${t.name}"`);
      if (spec.shape.length !== t.shape.length || spec.shape.some((d, i) => d !== t.shape[i])) {
        throw new ParameterMismatchError(`parameter "${t.name}": expected shape [${spec.shape}], got [${t.shape}]`);
      }
      if (t.data.length !== sizeOf(spec.shape)) throw new ParameterMismatchError(`parameter "${t.name}": expected ${sizeOf(spec.shape)} values, got ${t.data.length}`);
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i] as number)) throw new ParameterMismatchError(`parameter "${t.name}": value ${i} is not finite`);
      }
    }
    for (const t of tensors) {
      this.params.get(t.name)?.dispose();
      this.params.set(t.name, tf.tensor(Float32Array.from(t.data), [...t.shape]));
    }
  }

  /** Samples `count` architectures of depth `layers` with the given generator (same seed, same architectures). */
  sample(count: number, rng: Rng, layers?: number): SampledArchitecture[] {
    const decisions = this.space.decisions(layers);
    const depth = layers ?? 1;
    const picks: Int32Array[] = [];
    const chooser: Chooser = (getProbs, rows, choices, kind) => {
      const probs = getProbs();
      let out: Int32Array;
      if (kind === 'bernoulli') {
        out = new Int32Array(probs.length);
        for (let r = 0; r < probs.length; r++) out[r] = rng.next() < (probs[r] as number) ? 1 : 0;
      } else {
        out = new Int32Array(rows);
        for (let r = 0; r < rows; r++) out[r] = rng.categorical(probs, r * choices, choices);
      }
      picks.push(out);
      return out;
    };
    const [logProb, entropy] = tf.tidy(() => {
      const { logProb, entropy } = this.unroll(count, decisions, chooser, this.params);
      return [logProb.dataSync() as Float32Array, entropy.dataSync() as Float32Array];
    });
    return Array.from({ length: count }, (_, k) => ({
      tokens: flattenPicks(picks, decisions, k),
      layers: depth,
      logProb: logProb[k] as number,
      entropy: entropy[k] as number,
    }));
  }

  /** log P(tokens) of each architecture under the current parameters (all of depth `layers`). */
  logProbs(architectures: readonly (readonly number[])[], layers?: number): number[] {
    const decisions = this.space.decisions(layers);
    return tf.tidy(() => {
      const { logProb } = this.unroll(architectures.length, decisions, teacher(architectures, decisions), this.params);
      return Array.from(logProb.dataSync());
    });
  }

  /**
   * The REINFORCE loss −(1/m) Σ_k advantage_k · log P(a_k) − entropyWeight · (1/m) Σ_k H_k and its gradient
   * with respect to every parameter. Descending this gradient ascends the expected reward.
   */
  gradient(batch: readonly ScoredArchitecture[], layers?: number, entropyWeight = 0): { loss: number; gradients: NamedTensor[] } {
    if (batch.length === 0) throw new ControllerConfigError('gradient: the batch is empty');
    const decisions = this.space.decisions(layers);
    const tokens = batch.map((b) => b.tokens);
    const advantages = batch.map((b) => b.advantage);
    if (advantages.some((a) => !Number.isFinite(a))) throw new ControllerConfigError('gradient: an advantage is not finite');
    const names = this.specs.map((s) => s.name);
    const inputs = names.map((n) => this.param(n));
    return tf.tidy(() => {
      const choose = teacher(tokens, decisions);
      const f = (...xs: tf.Tensor[]): tf.Scalar => {
        const params = new Map(names.map((n, i) => [n, xs[i] as tf.Tensor]));
        // The entropy terms cost time on the tape; build them only when the bonus is on.
        const { logProb, entropy } = this.unroll(batch.length, decisions, choose, params, entropyWeight !== 0);
        const adv = tf.tensor1d(advantages);
        let loss = tf.neg(tf.mean(tf.mul(adv, logProb)));
        if (entropyWeight !== 0) loss = tf.sub(loss, tf.mul(entropyWeight, tf.mean(entropy)));
        return loss as tf.Scalar;
      };
      // Some parameters take no part in a given unroll (the last token's embedding, the anchor attention of a
      // one-layer child): the engine's gradient call allows that, and their gradient is zero.
      const { value, grads } = tf.engine().gradients(() => f(...inputs), inputs, undefined, true);
      const gradients = names.map((name, i) => {
        const shape = [...(this.specs[i] as ParamSpec).shape];
        const g = grads[i];
        return { name, shape, data: g ? (g.dataSync() as Float32Array) : new Float32Array(sizeOf(shape)) };
      });
      return { loss: value.dataSync()[0] as number, gradients };
    });
  }

  /** Frees the parameter tensors. */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
  }

  private param(name: string): tf.Tensor {
    const t = this.params.get(name);
    if (!t) throw new ParameterMismatchError(`controller parameter "${name}" is missing (policy disposed?)`);
    return t;
  }

  /** Runs the controller over `decisions` for `rows` architectures at once; returns log P and entropy per row. */
  private unroll(
    rows: number,
    decisions: readonly Decision[],
    choose: Chooser,
    params: Map<string, tf.Tensor>,
    withEntropy = true,
  ): { logProb: tf.Tensor1D; entropy: tf.Tensor1D } {
    const P = (name: string): tf.Tensor => {
      const t = params.get(name);
      if (!t) throw new ParameterMismatchError(`controller parameter "${name}" is missing`);
      return t;
    };
    const H = this.options.hiddenSize;
    const L = this.options.lstmLayers;
    let h: tf.Tensor2D[] = Array.from({ length: L }, () => tf.zeros([rows, H]) as tf.Tensor2D);
    let c: tf.Tensor2D[] = Array.from({ length: L }, () => tf.zeros([rows, H]) as tf.Tensor2D);
    const go = tf.tile(P('go'), [rows, 1]) as tf.Tensor2D;
    let x: tf.Tensor2D = go;
    let logProb: tf.Tensor1D = tf.zeros([rows]);
    let entropy: tf.Tensor1D = tf.zeros([rows]);
    const anchorH: tf.Tensor2D[] = [];
    const anchorProj: tf.Tensor2D[] = [];

    const step = (input: tf.Tensor2D): tf.Tensor2D => {
      let layerInput = input;
      const nh: tf.Tensor2D[] = [];
      const nc: tf.Tensor2D[] = [];
      for (let l = 0; l < L; l++) {
        const z = tf.add(tf.matMul(tf.concat([layerInput, h[l] as tf.Tensor2D], 1), P(`lstm/${l}/kernel`) as tf.Tensor2D), P(`lstm/${l}/bias`));
        const [gi, gf, gg, go_] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const cNew = tf.add(tf.mul(tf.sigmoid(gf), c[l] as tf.Tensor2D), tf.mul(tf.sigmoid(gi), tf.tanh(gg))) as tf.Tensor2D;
        const hNew = tf.mul(tf.sigmoid(go_), tf.tanh(cNew)) as tf.Tensor2D;
        nh.push(hNew);
        nc.push(cNew);
        layerInput = hNew;
      }
      h = nh;
      c = nc;
      return layerInput;
    };

    for (const d of decisions) {
      const out = step(x);
      if (d.kind === 'categorical') {
        const n = this.choiceCount.get(d.type);
        if (n === undefined) throw new ParameterMismatchError(`the space has no token type "${d.type}"`);
        let logits: tf.Tensor2D = tf.add(tf.matMul(out, P(`head/${d.type}/kernel`) as tf.Tensor2D), P(`head/${d.type}/bias`));
        if (this.options.tanhConstant > 0) logits = tf.mul(this.options.tanhConstant, tf.tanh(logits));
        if (this.options.temperature !== 1) logits = tf.div(logits, this.options.temperature);
        const logp = tf.logSoftmax(logits);
        const probs = tf.exp(logp);
        const picked = choose(() => probs.dataSync() as Float32Array, rows, n, 'categorical');
        const chosen = tf.tensor1d(picked, 'int32');
        if (n > 1) {
          // A token with a single choice is certain: it adds nothing to log P or the entropy.
          const mask = tf.oneHot(chosen, n);
          logProb = tf.add(logProb, tf.sum(tf.mul(mask, logp), 1));
          if (withEntropy) entropy = tf.sub(entropy, tf.sum(tf.mul(probs, logp), 1));
        }
        x = tf.gather(P(`embedding/${d.type}`), chosen) as tf.Tensor2D;
      } else {
        const i = d.layer;
        if (i > 0) {
          const query = tf.matMul(out, P('anchor/w_curr') as tf.Tensor2D);
          const scores = tf.concat(
            anchorProj.slice(0, i).map((proj) => tf.matMul(tf.tanh(tf.add(proj, query)), P('anchor/v') as tf.Tensor2D)),
            1,
          ) as tf.Tensor2D; // [rows, i]
          const probs = tf.sigmoid(scores);
          const picked = choose(() => probs.dataSync() as Float32Array, rows, 2, 'bernoulli');
          const bits = tf.tensor2d(Float32Array.from(picked), [rows, i]);
          // log σ(s) = −softplus(−s) and log(1 − σ(s)) = −softplus(s); written out because tf.logSigmoid's custom
          // gradient keeps a tensor that the gradient tape has already released.
          const logP1 = tf.neg(tf.softplus(tf.neg(scores)));
          const logP0 = tf.neg(tf.softplus(scores));
          logProb = tf.add(logProb, tf.sum(tf.add(tf.mul(bits, logP1), tf.mul(tf.sub(1, bits), logP0)), 1));
          if (withEntropy) entropy = tf.sub(entropy, tf.sum(tf.add(tf.mul(probs, logP1), tf.mul(tf.sub(1, probs), logP0)), 1));
          // Next input: the mean of the chosen anchors' states, with the go embedding standing in when none is chosen.
          const stacked = tf.stack(anchorH.slice(0, i), 1); // [rows, i, H]
          const chosenSum = tf.sum(tf.mul(tf.expandDims(bits, 2), stacked), 1);
          x = tf.div(tf.add(go, chosenSum), tf.add(1, tf.sum(bits, 1, true))) as tf.Tensor2D;
        } else {
          x = go;
        }
        anchorH.push(out);
        anchorProj.push(tf.matMul(out, P('anchor/w_prev') as tf.Tensor2D));
      }
    }
    return { logProb, entropy };
  }
}

/** A chooser that replays given token sequences (teacher forcing) in decision order. */
function teacher(architectures: readonly (readonly number[])[], decisions: readonly Decision[]): Chooser {
  const offsets: number[] = [];
  let p = 0;
  for (const d of decisions) {
    offsets.push(p);
    p += d.kind === 'categorical' ? 1 : d.layer;
  }
  architectures.forEach((a, k) => {
    if (a.length !== p) throw new ParameterMismatchError(`architecture ${k}: expected ${p} tokens for this depth, got ${a.length}`);
  });
  let index = 0;
  return (_probs, rows, choices, kind) => {
    // An anchor point of layer 0 picks nothing, so the chooser is not called for it.
    while (decisions[index]?.kind === 'anchor' && (decisions[index] as { layer: number }).layer === 0) index++;
    const d = decisions[index] as Decision;
    const offset = offsets[index] as number;
    index++;
    if (d.kind === 'categorical' && kind === 'categorical') {
      const out = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        const t = (architectures[r] as readonly number[])[offset] as number;
        if (!Number.isInteger(t) || t < 0 || t >= choices) throw new ParameterMismatchError(`architecture ${r}: token ${offset} (${t}) is not a choice in [0, ${choices - 1}]`);
        out[r] = t;
      }
      return out;
    }
    if (d.kind !== 'anchor' || kind !== 'bernoulli') throw new ParameterMismatchError(`decision ${index - 1}: replayed out of order`);
    const out = new Int32Array(rows * d.layer);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d.layer; j++) {
        const t = (architectures[r] as readonly number[])[offset + j] as number;
        if (t !== 0 && t !== 1) throw new ParameterMismatchError(`architecture ${r}: anchor token ${offset + j} must be 0 or 1, got ${t}`);
        out[r * d.layer + j] = t;
      }
    }
    return out;
  };
}

/** Collects row `k`'s tokens from the per-decision picks, in token order. */
function flattenPicks(picks: readonly Int32Array[], decisions: readonly Decision[], k: number): number[] {
  const tokens: number[] = [];
  let next = 0; // an anchor point of layer 0 has no earlier layer, so it picks nothing
  for (const d of decisions) {
    if (d.kind === 'categorical') tokens.push((picks[next++] as Int32Array)[k] as number);
    else if (d.layer > 0) {
      const p = picks[next++] as Int32Array;
      for (let j = 0; j < d.layer; j++) tokens.push(p[k * d.layer + j] as number);
    }
  }
  return tokens;
}
