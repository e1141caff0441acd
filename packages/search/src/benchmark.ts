import type { SearchSpace } from '@nasrl/spaces';

/** What a tabulated evaluation returns: the reward the search sees, the figure reported, and its cost. */
export interface TabulatedResult {
  /** What the search sees (NAS-Bench-201: CIFAR-10 validation accuracy after 12 epochs, percent). */
  readonly reward: number;
  /** What is reported if this architecture ends up the best by reward (NAS-Bench-201: test accuracy after 200 epochs). */
  readonly test: number;
  /** Budget this evaluation costs (simulated seconds, or 1 for budgets counted in evaluations). */
  readonly cost: number;
  /** Trainable parameters, when the table says (NAS-Bench-201's params_millions). */
  readonly parameters?: number;
}

/** A search problem answered from a table: a space and a lookup of any of its architectures' tokens. */
export interface TabularBenchmark {
  readonly name: string;
  readonly space: SearchSpace;
  /** The tabulated result of an architecture, or undefined when the table lacks it. */
  evaluate(tokens: readonly number[]): TabulatedResult | undefined;
  /**
   * A key shared by architectures that compute the same function (NAS-Bench-201's `unique` column), so a
   * search that reuses evaluations does not pay for an isomorphic copy; the token key where none is known.
   */
  canonicalKey(tokens: readonly number[]): string;
  /** The budget of one search run, in the unit of `cost`. */
  readonly budget: number;
  /** The unit of the budget, for reports. */
  readonly budgetUnit: 'seconds' | 'evaluations';
}
