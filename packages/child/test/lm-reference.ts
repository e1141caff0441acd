// A float64 language model in plain JavaScript, written from the definitions and sharing no code with the
// TensorFlow.js child: the oracle of the gradient and equation tests.
import type { RnnActivation, RnnCell, RnnCombination } from '@nasrl/spaces';
import type { LmCell, LmSegment, LmShape } from '../src';

export type Params = Map<string, Float64Array>;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function act(kind: RnnActivation, x: number): number {
  return kind === 'identity' ? x : kind === 'tanh' ? Math.tanh(x) : kind === 'sigmoid' ? sigmoid(x) : Math.max(0, x);
}

function comb(kind: RnnCombination, a: number, b: number): number {
  return kind === 'add' ? a + b : a * b;
}

/** row · matrix[rows, cols] for one row vector. */
export function vecMat(v: ArrayLike<number>, m: Float64Array, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < v.length; i++) {
    const vi = v[i] as number;
    for (let j = 0; j < cols; j++) out[j] = (out[j] as number) + vi * (m[i * cols + j] as number);
  }
  return out;
}

/**
 * One step of an rnn-space cell for one example. `xw` and `hu` are x·W and h·U ([base·H]); the tree is built
 * by pairing consecutive nodes of each level, leaves first.
 */
export function referenceCellStep(cell: RnnCell, xw: Float64Array, hu: Float64Array, c: Float64Array, H: number): { h: Float64Array; c: Float64Array } {
  const values: Float64Array[] = [];
  let memory: Float64Array = new Float64Array(H);
  const finish = (index: number, pre: Float64Array): void => {
    const op = cell.nodes[index]!;
    if (index === cell.memoryOut) memory = pre;
    let v = pre.map((p) => act(op.activation, p));
    if (index === cell.memoryIn) v = v.map((x, k) => act(cell.inject.activation, comb(cell.inject.combination, x, c[k]!)));
    values[index] = v;
  };
  let level: number[] = [];
  for (let i = 0; i < cell.base; i++) {
    const op = cell.nodes[i]!;
    finish(i, Float64Array.from({ length: H }, (_, k) => comb(op.combination, xw[i * H + k]!, hu[i * H + k]!)));
    level.push(i);
  }
  let next = cell.base;
  while (level.length > 1) {
    const upper: number[] = [];
    for (let p = 0; p < level.length; p += 2) {
      const a = values[level[p]!]!;
      const b = values[level[p + 1]!]!;
      const op = cell.nodes[next]!;
      finish(next, Float64Array.from({ length: H }, (_, k) => comb(op.combination, a[k]!, b[k]!)));
      upper.push(next++);
    }
    level = upper;
  }
  return { h: values[level[0]!]!, c: memory };
}

/** One LSTM step for one example: z = x·W + h·U + b in gate blocks i, f, g, o. */
export function referenceLstmStep(z: Float64Array, c: Float64Array, H: number): { h: Float64Array; c: Float64Array } {
  const cNew = new Float64Array(H);
  const h = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    cNew[k] = sigmoid(z[H + k]!) * c[k]! + sigmoid(z[k]!) * Math.tanh(z[2 * H + k]!);
    h[k] = sigmoid(z[3 * H + k]!) * Math.tanh(cNew[k]!);
  }
  return { h, c: cNew };
}

/** Mean cross-entropy of a segment (no dropout) from initial states `h0[l][b]`, `c0[l][b]`. */
export function referenceLoss(cell: LmCell, shape: LmShape, p: Params, segment: LmSegment, h0: Float64Array[][], c0: Float64Array[][]): number {
  const { batch, steps } = segment;
  const H = shape.hiddenSize;
  const V = shape.vocabularySize;
  const E = shape.embeddingSize;
  const gates = cell.kind === 'lstm' ? 4 : cell.cell.base;
  const h: Float64Array[][] = h0.map((layer) => layer.map((v) => Float64Array.from(v)));
  const c: Float64Array[][] = c0.map((layer) => layer.map((v) => Float64Array.from(v)));
  const embedding = p.get('embedding')!;
  let total = 0;
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < batch; b++) {
      const id = segment.inputs[t * batch + b]!;
      let x: Float64Array = embedding.slice(id * E, (id + 1) * E);
      for (let l = 0; l < shape.layers; l++) {
        const xw = vecMat(x, p.get(`layer${l}/kernel`)!, gates * H);
        const hu = vecMat(h[l]![b]!, p.get(`layer${l}/recurrent`)!, gates * H);
        let out: { h: Float64Array; c: Float64Array };
        if (cell.kind === 'lstm') {
          const bias = p.get(`layer${l}/bias`)!;
          out = referenceLstmStep(xw.map((v, k) => v + hu[k]! + bias[k]!), c[l]![b]!, H);
        } else {
          out = referenceCellStep(cell.cell, xw, hu, c[l]![b]!, H);
        }
        h[l]![b] = out.h;
        c[l]![b] = out.c;
        x = out.h;
      }
      const logits = shape.tied ? new Float64Array(V).map((_, v) => x.reduce((s, xi, k) => s + xi * embedding[v * E + k]!, 0)) : vecMat(x, p.get('softmax/kernel')!, V);
      const bias = p.get('softmax/bias')!;
      for (let v = 0; v < V; v++) logits[v] = logits[v]! + bias[v]!;
      const max = Math.max(...logits);
      const logSum = max + Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0));
      total += logSum - logits[segment.targets[t * batch + b]!]!;
    }
  }
  return total / (batch * steps);
}
