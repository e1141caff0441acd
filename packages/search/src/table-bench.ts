import { readFileSync } from 'node:fs';
import { parseTableSpace, SpaceFileError, type TableSpace } from '@nasrl/spaces';
import type { TabularBenchmark, TabulatedResult } from './benchmark';
import { SearchConfigError } from './errors';

/** A table space file as a benchmark whose budget counts evaluations. */
export class TableBenchmark implements TabularBenchmark {
  readonly budgetUnit = 'evaluations';
  constructor(readonly space: TableSpace, readonly budget: number) {
    if (!Number.isInteger(budget) || budget < 1) throw new SearchConfigError(`budget: expected a positive number of evaluations, got ${budget}`);
  }

  get name(): string {
    return this.space.name;
  }

  /** Reads a table space file (see @nasrl/spaces parseTableSpace for its form). */
  static load(file: string, budgetEvaluations: number): TableBenchmark {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SpaceFileError(file, `cannot read the table space file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return new TableBenchmark(parseTableSpace(text, file), budgetEvaluations);
  }

  canonicalKey(tokens: readonly number[]): string {
    return tokens.join(',');
  }

  evaluate(tokens: readonly number[]): TabulatedResult | undefined {
    const e = this.space.lookup(tokens);
    return e && { reward: e.reward, test: e.test ?? e.reward, cost: 1 };
  }
}
