import { readFileSync } from 'node:fs';
import { Nb201Space, parseNb201String, SpaceFileError, InvalidArchitectureError } from '@nasrl/spaces';
import type { TabularBenchmark, TabulatedResult } from './benchmark';

/** The columns the NAS-Bench-201 protocol reads. */
const REQUIRED_COLUMNS = ['index', 'arch', 'cifar10_valid_12ep', 'cifar10_test_200ep', 'cifar10_train_seconds_200ep'] as const;

/** Number of architectures in NAS-Bench-201's cell space (5 ops on 6 edges). */
export const NB201_SIZE = 15625;

/** The protocol of NAS-Bench-201's Table 5: a 12,000 s budget, each evaluation charged 12/200 of its 200-epoch time. */
export const NB201_PROTOCOL = { budgetSeconds: 12000, epochFraction: 12 / 200 } as const;

/**
 * NAS-Bench-201 read from its CSV (one row per architecture). The reward is `cifar10_valid_12ep`, the
 * reported figure `cifar10_test_200ep`, the cost 12/200 of `cifar10_train_seconds_200ep`.
 */
export class Nb201Table implements TabularBenchmark {
  readonly name = 'nb201';
  readonly space = new Nb201Space();
  readonly budgetUnit = 'seconds';
  private readonly rows = new Map<string, TabulatedResult>();
  private readonly unique = new Map<string, string>();

  private constructor(readonly budget: number) {}

  /** Reads and validates the CSV; every error names the file, the line and the column. */
  static load(file: string, budgetSeconds: number = NB201_PROTOCOL.budgetSeconds): Nb201Table {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SpaceFileError(file, `cannot read the NAS-Bench-201 table (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return Nb201Table.parse(text, file, budgetSeconds);
  }

  /** Parses CSV text (see `load`). */
  static parse(text: string, file = '<nas-bench-201 csv>', budgetSeconds: number = NB201_PROTOCOL.budgetSeconds): Nb201Table {
    const table = new Nb201Table(budgetSeconds);
    const lines = text.split(/\r?\n/);
    const header = (lines[0] ?? '').split(',');
    const col = new Map(header.map((h, i) => [h.trim(), i]));
    for (const name of REQUIRED_COLUMNS) {
      if (!col.has(name)) throw new SpaceFileError(file, `line 1: missing column "${name}" (the header has ${header.join(', ')})`);
    }
    const at = (name: (typeof REQUIRED_COLUMNS)[number]): number => col.get(name) as number;
    for (let ln = 1; ln < lines.length; ln++) {
      const line = lines[ln] as string;
      if (line.trim() === '') continue;
      const cells = line.split(',');
      if (cells.length !== header.length) throw new SpaceFileError(file, `line ${ln + 1}: expected ${header.length} columns, got ${cells.length}`);
      const number = (name: (typeof REQUIRED_COLUMNS)[number]): number => {
        const v = Number(cells[at(name)]);
        if (!Number.isFinite(v) || (cells[at(name)] ?? '').trim() === '') throw new SpaceFileError(file, `line ${ln + 1}: column ${name} is not a number (${JSON.stringify(cells[at(name)])})`);
        return v;
      };
      let arch;
      try {
        arch = parseNb201String(cells[at('arch')] as string);
      } catch (err) {
        if (err instanceof InvalidArchitectureError) throw new SpaceFileError(file, `line ${ln + 1}: ${err.message}`);
        throw err;
      }
      const key = table.space.encode(arch).join(',');
      if (table.rows.has(key)) throw new SpaceFileError(file, `line ${ln + 1}: architecture ${cells[at('arch')]} appears twice`);
      const seconds = number('cifar10_train_seconds_200ep');
      if (seconds < 0) throw new SpaceFileError(file, `line ${ln + 1}: cifar10_train_seconds_200ep is negative`);
      const uniqueColumn = col.get('unique');
      if (uniqueColumn !== undefined && (cells[uniqueColumn] ?? '').trim() !== '') table.unique.set(key, (cells[uniqueColumn] as string).trim());
      const paramsColumn = col.get('params_millions');
      const millions = paramsColumn === undefined ? NaN : Number(cells[paramsColumn]);
      table.rows.set(key, {
        reward: number('cifar10_valid_12ep'),
        test: number('cifar10_test_200ep'),
        cost: seconds * NB201_PROTOCOL.epochFraction,
        ...(Number.isFinite(millions) && millions >= 0 ? { parameters: Math.round(millions * 1e6) } : {}),
      });
    }
    if (table.rows.size !== NB201_SIZE) throw new SpaceFileError(file, `expected ${NB201_SIZE} architectures, found ${table.rows.size}`);
    return table;
  }

  canonicalKey(tokens: readonly number[]): string {
    const key = tokens.join(',');
    return this.unique.get(key) ?? key;
  }

  evaluate(tokens: readonly number[]): TabulatedResult | undefined {
    return this.rows.get(tokens.join(','));
  }

  /** Every tabulated result (for the optimum and for tests). */
  results(): IterableIterator<TabulatedResult> {
    return this.rows.values();
  }
}
