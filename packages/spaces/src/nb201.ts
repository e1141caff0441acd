import { checkTokens, describe } from './check';
import { InvalidArchitectureError } from './errors';
import type { Decision, SearchSpace, TokenType } from './types';

/** The five operations on a NAS-Bench-201 edge, in the benchmark's order. */
export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type Nb201Op = (typeof NB201_OPS)[number];

/** The six edges of the cell as (from, to) nodes, in the order of the architecture string. */
export const NB201_EDGES: readonly (readonly [number, number])[] = [
  [0, 1],
  [0, 2],
  [1, 2],
  [0, 3],
  [1, 3],
  [2, 3],
];

/** A NAS-Bench-201 cell: the operation on each of the six edges, in NB201_EDGES order. */
export interface Nb201Architecture {
  readonly ops: readonly Nb201Op[];
}

/** `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` for the given ops. */
export function nb201String(arch: Nb201Architecture): string {
  const [a, b, c, d, e, f] = arch.ops;
  return `|${a}~0|+|${b}~0|${c}~1|+|${d}~0|${e}~1|${f}~2|`;
}

const ARCH_PATTERN = /^\|([a-z_0-9]+)~0\|\+\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|\+\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|([a-z_0-9]+)~2\|$/;

/** Parses an architecture string of the benchmark; throws InvalidArchitectureError saying what is wrong. */
export function parseNb201String(text: string): Nb201Architecture {
  const match = ARCH_PATTERN.exec(text);
  if (!match) {
    throw new InvalidArchitectureError(
      `NAS-Bench-201 architecture ${describe(text)}: expected the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2|`,
    );
  }
  const ops = match.slice(1).map((op, i) => {
    if (!(NB201_OPS as readonly string[]).includes(op)) {
      const [from, to] = NB201_EDGES[i] as readonly [number, number];
      throw new InvalidArchitectureError(`NAS-Bench-201 architecture: edge ${from}->${to} has unknown op "${op}" (expected ${NB201_OPS.join(', ')})`);
    }
    return op as Nb201Op;
  });
  return { ops };
}

/**
 * The NAS-Bench-201 cell space: six tokens, one per edge, each a choice of five operations. Each edge has its
 * own token type (softmax head and embedding), so the controller can learn a preference per edge directly.
 */
export class Nb201Space implements SearchSpace<Nb201Architecture> {
  readonly name = 'nb201';
  readonly maxLayers = 1;
  readonly tokenTypes: readonly TokenType[] = NB201_EDGES.map(([from, to]) => ({ name: `edge_${from}_${to}`, choices: [...NB201_OPS] }));
  private readonly steps: readonly Decision[] = this.tokenTypes.map((t) => ({ kind: 'categorical', type: t.name }));

  decisions(): readonly Decision[] {
    return this.steps;
  }

  decode(tokens: readonly number[]): Nb201Architecture {
    checkTokens(tokens, this.tokenTypes.map(() => NB201_OPS.length));
    return { ops: tokens.map((t) => NB201_OPS[t] as Nb201Op) };
  }

  encode(arch: Nb201Architecture): number[] {
    return arch.ops.map((op) => NB201_OPS.indexOf(op));
  }

  key(arch: Nb201Architecture): string {
    return nb201String(arch);
  }

  parse(json: unknown): Nb201Architecture {
    if (typeof json === 'string') return parseNb201String(json);
    if (typeof json === 'object' && json !== null && typeof (json as { arch?: unknown }).arch === 'string') {
      return parseNb201String((json as { arch: string }).arch);
    }
    throw new InvalidArchitectureError(`NAS-Bench-201 architecture: expected a string or {"arch": string}, got ${describe(json)}`);
  }

  toJSON(arch: Nb201Architecture): unknown {
    return { arch: nb201String(arch) };
  }
}
