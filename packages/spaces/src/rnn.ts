import { checkTokens, describe, expectArray, expectInteger, expectObject, expectOneOf, rejectUnknownKeys } from './check';
import { InvalidArchitectureError } from './errors';
import type { Decision, SearchSpace, TokenType } from './types';

/** How a node combines its two inputs; both are commutative. */
export const RNN_COMBINATIONS = ['add', 'mul'] as const;
export type RnnCombination = (typeof RNN_COMBINATIONS)[number];

/** The activation a node applies to its combined inputs. */
export const RNN_ACTIVATIONS = ['identity', 'tanh', 'sigmoid', 'relu'] as const;
export type RnnActivation = (typeof RNN_ACTIVATIONS)[number];

/** What one node (or the cell inject) does: activation(combination(a, b)). */
export interface RnnOp {
  readonly combination: RnnCombination;
  readonly activation: RnnActivation;
}

/**
 * A recurrent cell of the paper's section 3.4: a binary tree of 2·base − 1 nodes computing h_t (the root) and
 * a memory c_t from x_t, h_{t-1} and c_{t-1}. Nodes are numbered leaves first, then level by level up to the
 * root (see rnnCellTree). Leaf i computes activation(combination(W_i·x_t, U_i·h_{t-1})); an internal node
 * combines its two children's values and has no weights.
 */
export interface RnnCell {
  /** Leaves of the tree: a power of two ≥ 2 (the paper uses 8). */
  readonly base: number;
  /** One op per node, leaves first, the root last. */
  readonly nodes: readonly RnnOp[];
  /** How c_{t-1} enters: the value v of node `memoryIn` becomes inject.activation(inject.combination(v, c_{t-1})). */
  readonly inject: RnnOp;
  /** The node whose pre-activation value (its combination, before its activation) is the new memory c_t. */
  readonly memoryOut: number;
  /** The node whose value takes in c_{t-1} through `inject`. */
  readonly memoryIn: number;
}

/** Where a node sits in the tree. */
export interface RnnTreeNode {
  readonly index: number;
  /** 0 for the leaves, log2(base) for the root. */
  readonly level: number;
  /** Position within its level, from 0. */
  readonly position: number;
  /** The two child nodes, or null for a leaf. */
  readonly children: readonly [number, number] | null;
  /** The parent node, or null for the root. */
  readonly parent: number | null;
}

/** The largest base a cell may have (a tree of 127 nodes). */
export const RNN_MAX_BASE = 64;

function checkBase(base: unknown, where: string): number {
  const b = expectInteger(base, where);
  if (b < 2 || b > RNN_MAX_BASE || (b & (b - 1)) !== 0) {
    throw new InvalidArchitectureError(`${where}: ${b} is not a power of two in [2, ${RNN_MAX_BASE}] (the cell is a binary tree over its leaves)`);
  }
  return b;
}

/** Nodes of a cell with `base` leaves: 2·base − 1. */
export function rnnNodeCount(base: number): number {
  return 2 * checkBase(base, 'base') - 1;
}

/** The tree of a cell with `base` leaves: node i's level, position, children and parent. */
export function rnnCellTree(base: number): RnnTreeNode[] {
  checkBase(base, 'base');
  const nodes: { index: number; level: number; position: number; children: readonly [number, number] | null; parent: number | null }[] = [];
  let levelStart = 0;
  let previousStart = 0;
  for (let level = 0, width = base; width >= 1; level++, width /= 2) {
    for (let position = 0; position < width; position++) {
      const index = levelStart + position;
      const children: readonly [number, number] | null = level === 0 ? null : [previousStart + 2 * position, previousStart + 2 * position + 1];
      nodes.push({ index, level, position, children, parent: null });
      if (children) for (const c of children) (nodes[c] as { parent: number | null }).parent = index;
    }
    previousStart = levelStart;
    levelStart += width;
  }
  return nodes;
}

/**
 * The published NAS cell (TensorFlow's NASCell, base 8): leaves σ(add), relu(add), σ(add), relu(mul),
 * tanh(add), σ(add), tanh(add), σ(add); level 2 tanh(mul), tanh(add), tanh(mul), σ(add); level 3
 * identity(mul), tanh(add); the root tanh(mul). c_{t-1} enters level-2 node 0 (node 8) with tanh(add), and
 * c_t is the pre-activation of level-3 node 0 (node 12).
 */
export const NAS_CELL: RnnCell = {
  base: 8,
  nodes: (
    [
      ['add', 'sigmoid'], ['add', 'relu'], ['add', 'sigmoid'], ['mul', 'relu'],
      ['add', 'tanh'], ['add', 'sigmoid'], ['add', 'tanh'], ['add', 'sigmoid'],
      ['mul', 'tanh'], ['add', 'tanh'], ['mul', 'tanh'], ['add', 'sigmoid'],
      ['mul', 'identity'], ['add', 'tanh'],
      ['mul', 'tanh'],
    ] as const
  ).map(([combination, activation]) => ({ combination, activation })),
  inject: { combination: 'add', activation: 'tanh' },
  memoryOut: 12,
  memoryIn: 8,
};

/** Cells known by name (`nasrl train-arch nascell --space rnn`). */
export const NAMED_RNN_CELLS: Readonly<Record<string, RnnCell>> = { nascell: NAS_CELL };

const CELL_KEYS = ['space', 'base', 'nodes', 'inject', 'memoryOut', 'memoryIn'] as const;

function parseOp(value: unknown, where: string): RnnOp {
  const o = expectObject(value, where);
  rejectUnknownKeys(o, ['combination', 'activation'], where);
  return {
    combination: expectOneOf(o.combination, RNN_COMBINATIONS, `${where}.combination`),
    activation: expectOneOf(o.activation, RNN_ACTIVATIONS, `${where}.activation`),
  };
}

function parseNodeIndex(value: unknown, count: number, where: string): number {
  const i = expectInteger(value, where);
  if (i < 0 || i >= count) throw new InvalidArchitectureError(`${where}: ${i} is not a node of this cell (0..${count - 1})`);
  return i;
}

/**
 * Parses and validates a recurrent cell from untrusted JSON, independent of any space's base:
 * `{"base": 2, "nodes": [{"combination": "add", "activation": "tanh"}, ...], "inject": {...}, "memoryOut": 2,
 * "memoryIn": 0}`. Throws InvalidArchitectureError naming the bad field.
 */
export function parseRnnCell(json: unknown): RnnCell {
  const root = expectObject(json, 'architecture');
  rejectUnknownKeys(root, CELL_KEYS, 'architecture');
  if (root.space !== undefined && root.space !== 'rnn') {
    throw new InvalidArchitectureError(`architecture.space: expected "rnn", got ${describe(root.space)}`);
  }
  const base = checkBase(root.base, 'architecture.base');
  const count = 2 * base - 1;
  const rawNodes = expectArray(root.nodes, 'architecture.nodes');
  if (rawNodes.length !== count) {
    throw new InvalidArchitectureError(`architecture.nodes: a cell of base ${base} has ${count} nodes (leaves first, root last), got ${rawNodes.length}`);
  }
  return {
    base,
    nodes: rawNodes.map((n, i) => parseOp(n, `architecture.nodes[${i}]`)),
    inject: parseOp(root.inject, 'architecture.inject'),
    memoryOut: parseNodeIndex(root.memoryOut, count, 'architecture.memoryOut'),
    memoryIn: parseNodeIndex(root.memoryIn, count, 'architecture.memoryIn'),
  };
}

/**
 * The canonical key of a cell. Both combinations are commutative and the leaves' weights are interchangeable,
 * so swapping the two subtrees under any internal node computes the same function: the key writes each node
 * as `combination:activation`, marks where c_{t-1} enters (`<c`) and where c_t leaves (`>c`), and lists the
 * two children of an internal node in sorted order.
 */
export function rnnCellKey(cell: RnnCell): string {
  const tree = rnnCellTree(cell.base);
  const canon = (i: number): string => {
    const op = cell.nodes[i] as RnnOp;
    const marks = `${i === cell.memoryIn ? '<c' : ''}${i === cell.memoryOut ? '>c' : ''}`;
    const children = (tree[i] as RnnTreeNode).children;
    const own = `${op.combination}:${op.activation}${marks}`;
    if (children === null) return own;
    const [a, b] = children.map(canon).sort() as [string, string];
    return `${own}(${a},${b})`;
  };
  return `rnn${cell.base}:${canon(tree.length - 1)}|inject ${cell.inject.combination}:${cell.inject.activation}`;
}

/** Options of the recurrent-cell space. */
export interface RnnSpaceOptions {
  /** Leaves of the cell's tree, a power of two ≥ 2. Default 8 (the paper's search: 34 tokens). */
  base?: number;
}

/**
 * The paper's recurrent-cell space (section 3.4). Tokens: for each node, leaves first and the root last, its
 * combination then its activation; then the cell inject's combination and activation; then two cell
 * indices: the node whose pre-activation becomes c_t (`memory_out`) and the node that takes in c_{t-1}
 * (`memory_in`). Base 8: 15 × 2 + 2 + 2 = 34 tokens.
 */
export class RnnSpace implements SearchSpace<RnnCell> {
  readonly name = 'rnn';
  readonly maxLayers = 1;
  readonly base: number;
  readonly nodeCount: number;
  readonly tokenTypes: readonly TokenType[];
  private readonly steps: readonly Decision[];

  constructor(options: RnnSpaceOptions = {}) {
    this.base = checkBase(options.base ?? 8, 'rnn space option base');
    this.nodeCount = 2 * this.base - 1;
    const nodes = Array.from({ length: this.nodeCount }, (_, i) => String(i));
    this.tokenTypes = [
      { name: 'combination', choices: [...RNN_COMBINATIONS] },
      { name: 'activation', choices: [...RNN_ACTIVATIONS] },
      { name: 'memory_out', choices: nodes },
      { name: 'memory_in', choices: nodes },
    ];
    const steps: Decision[] = [];
    // One (combination, activation) pair per node, then one more for the cell inject.
    for (let i = 0; i <= this.nodeCount; i++) {
      steps.push({ kind: 'categorical', type: 'combination' }, { kind: 'categorical', type: 'activation' });
    }
    steps.push({ kind: 'categorical', type: 'memory_out' }, { kind: 'categorical', type: 'memory_in' });
    this.steps = steps;
  }

  decisions(): readonly Decision[] {
    return this.steps;
  }

  /** Choice count of every token (2·nodes + 4 tokens). */
  tokenSizes(): number[] {
    const sizes: number[] = [];
    // The node pairs and the inject pair, then the two cell indices.
    for (let i = 0; i <= this.nodeCount; i++) sizes.push(RNN_COMBINATIONS.length, RNN_ACTIVATIONS.length);
    sizes.push(this.nodeCount, this.nodeCount);
    return sizes;
  }

  decode(tokens: readonly number[]): RnnCell {
    checkTokens(tokens, this.tokenSizes());
    const op = (p: number): RnnOp => ({
      combination: RNN_COMBINATIONS[tokens[p] as number] as RnnCombination,
      activation: RNN_ACTIVATIONS[tokens[p + 1] as number] as RnnActivation,
    });
    const n = this.nodeCount;
    return {
      base: this.base,
      nodes: Array.from({ length: n }, (_, i) => op(2 * i)),
      inject: op(2 * n),
      memoryOut: tokens[2 * n + 2] as number,
      memoryIn: tokens[2 * n + 3] as number,
    };
  }

  encode(cell: RnnCell): number[] {
    const c = this.check(cell);
    const tokens: number[] = [];
    for (const op of [...c.nodes, c.inject]) tokens.push(RNN_COMBINATIONS.indexOf(op.combination), RNN_ACTIVATIONS.indexOf(op.activation));
    tokens.push(c.memoryOut, c.memoryIn);
    return tokens;
  }

  key(cell: RnnCell): string {
    return rnnCellKey(cell);
  }

  /** Validates a cell (JSON) and checks that its base is this space's. */
  parse(json: unknown): RnnCell {
    return this.check(parseRnnCell(json));
  }

  toJSON(cell: RnnCell): unknown {
    return {
      space: 'rnn',
      base: cell.base,
      nodes: cell.nodes.map((o) => ({ combination: o.combination, activation: o.activation })),
      inject: { combination: cell.inject.combination, activation: cell.inject.activation },
      memoryOut: cell.memoryOut,
      memoryIn: cell.memoryIn,
    };
  }

  /** Re-validates a cell built in code (a typed value can still hold a wrong base or an unknown op). */
  private check(cell: RnnCell): RnnCell {
    const parsed = parseRnnCell(cell);
    if (parsed.base !== this.base) {
      throw new InvalidArchitectureError(`architecture.base: ${parsed.base} differs from this rnn space's base ${this.base}; use a space of base ${parsed.base} or a cell of base ${this.base}`);
    }
    return parsed;
  }
}
