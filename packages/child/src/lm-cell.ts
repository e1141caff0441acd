import * as tf from '@tensorflow/tfjs-core';
import { rnnCellTree, type RnnActivation, type RnnCell, type RnnCombination, type RnnOp } from '@nasrl/spaces';

/** The recurrent cell of a language-model child: a cell of the rnn space, or the LSTM baseline. */
export type LmCell = { readonly kind: 'lstm' } | { readonly kind: 'rnn'; readonly cell: RnnCell };

/** The recurrent state of one layer: h (the output) and c (the memory). */
export interface LayerState {
  readonly h: tf.Tensor2D;
  readonly c: tf.Tensor2D;
}

/** Weights of one layer. The rnn cell has no biases (as the published NASCell); the LSTM has one. */
export interface LayerWeights {
  /** [inputSize, gates·hidden]: leaf i (gate i) reads columns i·hidden..(i+1)·hidden−1. */
  readonly kernel: tf.Tensor2D;
  /** [hidden, gates·hidden]. */
  readonly recurrent: tf.Tensor2D;
  /** [gates·hidden] for the LSTM; absent for rnn cells. */
  readonly bias?: tf.Tensor1D;
}

/** Column blocks of the layer weights: the cell's leaves, or the LSTM's four gates. */
export function gateCount(cell: LmCell): number {
  return cell.kind === 'lstm' ? 4 : cell.cell.base;
}

function combine(kind: RnnCombination, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return kind === 'add' ? tf.add(a, b) : tf.mul(a, b);
}

function activate(kind: RnnActivation, x: tf.Tensor2D): tf.Tensor2D {
  switch (kind) {
    case 'identity':
      return x;
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'relu':
      return tf.relu(x);
  }
}

/**
 * How the leaves of a cell run as a few ops over all of them at once ([batch, base·hidden] tensors, leaf i
 * in columns i·hidden..): masks that pick, per column, the leaf's combination and activation. Built once
 * per layer call (runLayer) and shared by its time steps.
 */
export interface LeafPlan {
  /** The leaves' one combination, or a mask that is true where a leaf multiplies (elsewhere it adds). */
  readonly combination: RnnCombination | tf.Tensor2D;
  /** The leaves' activations, the most used first: it applies everywhere, each later one where its mask is true. */
  readonly activations: readonly { readonly kind: RnnActivation; readonly mask: tf.Tensor2D | null }[];
}

/** The leaf plan of `cell` for `batch` rows of `hidden` units; its masks are tensors (dispose them, or build it in a tidy). */
export function planLeaves(cell: RnnCell, batch: number, hidden: number): LeafPlan {
  const leaves = cell.nodes.slice(0, cell.base);
  const maskOf = (pick: (op: (typeof leaves)[number]) => boolean): tf.Tensor2D => {
    const row = new Uint8Array(cell.base * hidden);
    leaves.forEach((op, i) => row.fill(pick(op) ? 1 : 0, i * hidden, (i + 1) * hidden));
    const values = new Uint8Array(batch * row.length);
    for (let b = 0; b < batch; b++) values.set(row, b * row.length);
    return tf.tensor2d(values, [batch, row.length], 'bool');
  };
  const combinations = new Set(leaves.map((op) => op.combination));
  const first = leaves[0] as RnnOp;
  const uses = new Map<RnnActivation, number>();
  for (const op of leaves) uses.set(op.activation, (uses.get(op.activation) ?? 0) + 1);
  const kinds = [...uses.keys()].sort((a, b) => (uses.get(b) as number) - (uses.get(a) as number));
  return {
    combination: combinations.size === 1 ? first.combination : maskOf((op) => op.combination === 'mul'),
    activations: kinds.map((kind, i) => ({ kind, mask: i === 0 ? null : maskOf((op) => op.activation === kind) })),
  };
}

/** The leaves' pre-activations and values over all leaves at once (see LeafPlan). */
function runLeaves(plan: LeafPlan, x: tf.Tensor2D, h: tf.Tensor2D): { pre: tf.Tensor2D; value: tf.Tensor2D } {
  const c = plan.combination;
  const pre = typeof c === 'string' ? combine(c, x, h) : (tf.where(c, tf.mul(x, h), tf.add(x, h)) as tf.Tensor2D);
  let value: tf.Tensor2D | undefined;
  for (const { kind, mask } of plan.activations) {
    const activated = activate(kind, pre);
    value = mask === null || value === undefined ? activated : (tf.where(mask, activated, value) as tf.Tensor2D);
  }
  return { pre, value: value ?? pre };
}

/**
 * One time step of an rnn-space cell. `inputPart` is x_t·W (all leaves, [batch, base·hidden]), computed for
 * every step at once by the caller; the step adds h_{t-1}·U. The leaves run as a few ops over all of them
 * (`plan`, from planLeaves; built here when absent), then one split hands each leaf's value to the tree,
 * whose inner nodes follow bottom-up. The memoryIn node's value becomes inject(value, c_{t-1}), and c_t is
 * the memoryOut node's pre-activation.
 */
export function rnnCellStep(cell: RnnCell, inputPart: tf.Tensor2D, state: LayerState, recurrent: tf.Tensor2D, plan?: LeafPlan): LayerState {
  const tree = rnnCellTree(cell.base);
  const hidden = state.h.shape[1];
  const leaves = runLeaves(plan ?? planLeaves(cell, state.h.shape[0], hidden), inputPart, tf.matMul(state.h, recurrent));
  const leafValues = tf.split(leaves.value, cell.base, 1) as tf.Tensor2D[];
  const values: tf.Tensor2D[] = [];
  let memory: tf.Tensor2D | undefined;
  for (const node of tree) {
    const op = cell.nodes[node.index];
    if (op === undefined) throw new Error(`rnn cell: node ${node.index} has no op (a cell of base ${cell.base} has ${tree.length})`);
    let value: tf.Tensor2D;
    if (node.children === null) {
      value = leafValues[node.index] as tf.Tensor2D;
      if (node.index === cell.memoryOut) memory = tf.slice(leaves.pre, [0, node.index * hidden], [-1, hidden]);
    } else {
      const pre = combine(op.combination, values[node.children[0]] as tf.Tensor2D, values[node.children[1]] as tf.Tensor2D);
      if (node.index === cell.memoryOut) memory = pre;
      value = activate(op.activation, pre);
    }
    if (node.index === cell.memoryIn) value = activate(cell.inject.activation, combine(cell.inject.combination, value, state.c));
    values.push(value);
  }
  return { h: values[values.length - 1] as tf.Tensor2D, c: memory as tf.Tensor2D };
}

/**
 * One time step of the LSTM (gates i, f, g, o in column blocks, no peepholes):
 * c_t = σ(f)·c_{t-1} + σ(i)·tanh(g), h_t = σ(o)·tanh(c_t). `inputPart` is x_t·W + b.
 */
export function lstmStep(inputPart: tf.Tensor2D, state: LayerState, recurrent: tf.Tensor2D): LayerState {
  const z = tf.add(inputPart, tf.matMul(state.h, recurrent));
  const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const c = tf.add(tf.mul(tf.sigmoid(f), state.c), tf.mul(tf.sigmoid(i), tf.tanh(g))) as tf.Tensor2D;
  return { h: tf.mul(tf.sigmoid(o), tf.tanh(c)) as tf.Tensor2D, c };
}

/**
 * Runs one layer over `steps` time steps. `inputs` is time-major, [steps·batch, inputSize] (rows t·batch..
 * (t+1)·batch−1 are step t); returns the outputs in the same layout and the final state.
 */
export function runLayer(cell: LmCell, weights: LayerWeights, inputs: tf.Tensor2D, steps: number, initial: LayerState): { outputs: tf.Tensor2D; state: LayerState } {
  // The input half of every step in one product: the recurrence only needs h_{t-1}·U per step.
  let projected = tf.matMul(inputs, weights.kernel);
  if (weights.bias !== undefined) projected = tf.add(projected, weights.bias) as tf.Tensor2D;
  const perStep = tf.split(projected, steps, 0) as tf.Tensor2D[];
  const plan = cell.kind === 'rnn' ? planLeaves(cell.cell, initial.h.shape[0], initial.h.shape[1]) : undefined;
  let state = initial;
  const outputs: tf.Tensor2D[] = [];
  for (const x of perStep) {
    state = cell.kind === 'lstm' ? lstmStep(x, state, weights.recurrent) : rnnCellStep(cell.cell, x, state, weights.recurrent, plan);
    outputs.push(state.h);
  }
  return { outputs: steps === 1 ? (outputs[0] as tf.Tensor2D) : tf.concat(outputs, 0), state };
}
