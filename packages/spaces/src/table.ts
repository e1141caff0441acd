import { checkTokens, describe, expectArray, expectObject, rejectUnknownKeys } from './check';
import { InvalidArchitectureError, SpaceFileError } from './errors';
import type { Decision, SearchSpace, TokenType } from './types';

/** One tabulated architecture: its tokens (choice indices), the reward the search sees, and optional extras. */
export interface TableEntry {
  readonly tokens: readonly number[];
  /** What the search sees. */
  readonly reward: number;
  /** What is reported for the best-reward architecture; defaults to `reward`. */
  readonly test?: number;
  /** Cost of one evaluation in (simulated) seconds. */
  readonly seconds?: number;
}

/** A table architecture is its token labels, one per token type. */
export interface TableArchitecture {
  readonly tokens: readonly string[];
}

/**
 * A categorical space read from a table file: `{"name", "tokens": [{"name", "choices"}], "entries": [...]}`.
 * Each token is its own type. Architectures missing from the table are valid in the space but cannot be
 * evaluated by the table evaluator.
 */
export class TableSpace implements SearchSpace<TableArchitecture> {
  readonly maxLayers = 1;
  private readonly steps: readonly Decision[];
  private readonly byKey = new Map<string, TableEntry>();

  constructor(
    readonly name: string,
    readonly tokenTypes: readonly TokenType[],
    readonly entries: readonly TableEntry[],
  ) {
    this.steps = tokenTypes.map((t) => ({ kind: 'categorical', type: t.name }));
    for (const e of entries) this.byKey.set(e.tokens.join(','), e);
  }

  decisions(): readonly Decision[] {
    return this.steps;
  }

  decode(tokens: readonly number[]): TableArchitecture {
    checkTokens(tokens, this.tokenTypes.map((t) => t.choices.length));
    return { tokens: tokens.map((t, i) => (this.tokenTypes[i] as TokenType).choices[t] as string) };
  }

  encode(arch: TableArchitecture): number[] {
    if (arch.tokens.length !== this.tokenTypes.length) {
      throw new InvalidArchitectureError(`${this.name}: expected ${this.tokenTypes.length} tokens, got ${arch.tokens.length}`);
    }
    return arch.tokens.map((label, i) => {
      const type = this.tokenTypes[i] as TokenType;
      const index = type.choices.indexOf(label);
      if (index < 0) throw new InvalidArchitectureError(`${this.name}: token ${i} (${type.name}) has no choice ${describe(label)}`);
      return index;
    });
  }

  key(arch: TableArchitecture): string {
    return arch.tokens.join('|');
  }

  parse(json: unknown): TableArchitecture {
    const obj = expectObject(json, 'architecture');
    const tokens = expectArray(obj.tokens, 'architecture.tokens').map((t, i) => {
      if (typeof t !== 'string') throw new InvalidArchitectureError(`architecture.tokens[${i}]: expected a string, got ${describe(t)}`);
      return t;
    });
    const arch = { tokens };
    this.encode(arch);
    return arch;
  }

  toJSON(arch: TableArchitecture): unknown {
    return { tokens: [...arch.tokens] };
  }

  /** The tabulated entry for token indices, or undefined when the table has none. */
  lookup(tokens: readonly number[]): TableEntry | undefined {
    return this.byKey.get(tokens.join(','));
  }
}

/** Parses a table space file's JSON text; every error names the file and the place in it. */
export function parseTableSpace(text: string, file = '<table space>'): TableSpace {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SpaceFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  try {
    const root = expectObject(json, 'file');
    rejectUnknownKeys(root, ['name', 'tokens', 'entries'], 'file');
    if (typeof root.name !== 'string' || root.name.length === 0) throw new InvalidArchitectureError(`name: expected a non-empty string, got ${describe(root.name)}`);
    const tokenTypes = expectArray(root.tokens, 'tokens').map((raw, i): TokenType => {
      const t = expectObject(raw, `tokens[${i}]`);
      rejectUnknownKeys(t, ['name', 'choices'], `tokens[${i}]`);
      if (typeof t.name !== 'string' || t.name.length === 0) throw new InvalidArchitectureError(`tokens[${i}].name: expected a non-empty string, got ${describe(t.name)}`);
      const choices = expectArray(t.choices, `tokens[${i}].choices`).map((c, k) => {
        if (typeof c !== 'string') throw new InvalidArchitectureError(`tokens[${i}].choices[${k}]: expected a string, got ${describe(c)}`);
        return c;
      });
      if (choices.length < 1) throw new InvalidArchitectureError(`tokens[${i}].choices: needs at least one choice`);
      if (new Set(choices).size !== choices.length) throw new InvalidArchitectureError(`tokens[${i}].choices: lists a choice twice`);
      return { name: t.name, choices };
    });
    if (tokenTypes.length === 0) throw new InvalidArchitectureError('tokens: needs at least one token');
    const names = tokenTypes.map((t) => t.name);
    if (new Set(names).size !== names.length) throw new InvalidArchitectureError('tokens: two tokens share a name');
    const seen = new Set<string>();
    const entries = expectArray(root.entries, 'entries').map((raw, i): TableEntry => {
      const where = `entries[${i}]`;
      const e = expectObject(raw, where);
      rejectUnknownKeys(e, ['tokens', 'reward', 'test', 'seconds'], where);
      const labels = expectArray(e.tokens, `${where}.tokens`);
      if (labels.length !== tokenTypes.length) throw new InvalidArchitectureError(`${where}.tokens: expected ${tokenTypes.length} tokens, got ${labels.length}`);
      const tokens = labels.map((label, k) => {
        const type = tokenTypes[k] as TokenType;
        const index = type.choices.indexOf(label as string);
        if (index < 0) throw new InvalidArchitectureError(`${where}.tokens[${k}]: ${describe(label)} is not a choice of token "${type.name}"`);
        return index;
      });
      const key = tokens.join(',');
      if (seen.has(key)) throw new InvalidArchitectureError(`${where}: the same tokens appear in an earlier entry`);
      seen.add(key);
      const finite = (key: 'reward' | 'test' | 'seconds', required: boolean): number | undefined => {
        const v = e[key];
        if (v === undefined && !required) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArchitectureError(`${where}.${key}: expected a finite number, got ${describe(v)}`);
        if (key === 'seconds' && v < 0) throw new InvalidArchitectureError(`${where}.seconds: must not be negative, got ${v}`);
        return v;
      };
      const entry: { tokens: number[]; reward: number; test?: number; seconds?: number } = { tokens, reward: finite('reward', true) as number };
      const test = finite('test', false);
      const seconds = finite('seconds', false);
      if (test !== undefined) entry.test = test;
      if (seconds !== undefined) entry.seconds = seconds;
      return entry;
    });
    if (entries.length === 0) throw new InvalidArchitectureError('entries: needs at least one entry');
    return new TableSpace(root.name, tokenTypes, entries);
  } catch (err) {
    if (err instanceof InvalidArchitectureError) throw new SpaceFileError(file, err.message);
    throw err;
  }
}
