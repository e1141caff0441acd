/**
 * What the controller must decide, one step at a time. A categorical step picks one of `choices` with the
 * softmax head and embedding table of its `type`; an anchor step (convolutional space) runs the anchor point
 * of `layer` and emits one Bernoulli token per earlier layer (1 = that layer is an input).
 */
export type Decision =
  | { readonly kind: 'categorical'; readonly type: string }
  | { readonly kind: 'anchor'; readonly layer: number };

/** A token type: its name and the labels of its choices. Each type has its own softmax head and embedding. */
export interface TokenType {
  readonly name: string;
  readonly choices: readonly string[];
}

/**
 * A search space: how many tokens an architecture has and what they mean. Architectures travel as token
 * sequences (indices into each step's choices; anchor tokens are 0/1), as JSON, and under a canonical key
 * (equal keys mean the same network).
 */
export interface SearchSpace<A = unknown> {
  readonly name: string;
  /** Every token type any decision of this space can use, in a fixed order (the controller allocates heads from it). */
  readonly tokenTypes: readonly TokenType[];
  /** The decisions for an architecture of `layers` layers (spaces of fixed size ignore the argument). */
  decisions(layers?: number): readonly Decision[];
  /** The largest number of layers `decisions` is ever asked for (the controller sizes its anchor attention by it). */
  readonly maxLayers: number;
  /** Tokens → architecture; throws InvalidArchitectureError naming the bad position. */
  decode(tokens: readonly number[], layers?: number): A;
  /** Architecture → tokens. */
  encode(arch: A): number[];
  /** Canonical key: equal keys are the same architecture. */
  key(arch: A): string;
  /** Validates untrusted JSON (a file, a job payload) and returns the architecture; throws InvalidArchitectureError. */
  parse(json: unknown): A;
  /** A JSON-serialisable description of the architecture (what `parse` reads back). */
  toJSON(arch: A): unknown;
}

/** Number of tokens a decision list emits: one per categorical step, `layer` per anchor step. */
export function tokenCount(decisions: readonly Decision[]): number {
  let n = 0;
  for (const d of decisions) n += d.kind === 'categorical' ? 1 : d.layer;
  return n;
}
