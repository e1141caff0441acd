import type { TabularBenchmark, TabulatedResult } from './benchmark';

/** The outcome of one search run under the protocol. */
export interface RunResult {
  /** The reported figure (test accuracy) of the architecture with the best reward. */
  readonly bestTest: number;
  readonly bestReward: number;
  readonly bestTokens: readonly number[];
  /** Evaluations charged to the budget. */
  readonly evaluations: number;
  /** Distinct architectures (by canonical key) among the charged evaluations: `evaluations` less the repeats paid for. */
  readonly distinct: number;
  /** Architectures the strategy proposed (charged or not). */
  readonly proposals: number;
  /** Budget spent, in the benchmark's unit. */
  readonly spent: number;
}

/** What asking for an evaluation gave: a result (charged, or from the cache for free), or the end of the budget. */
export type Outcome =
  | { readonly kind: 'result'; readonly result: TabulatedResult; readonly charged: boolean }
  | { readonly kind: 'missing' }
  | { readonly kind: 'exhausted' };

/**
 * The bookkeeping of one run: budget, best-by-reward, and every evaluated architecture. An evaluation whose
 * cost would take the run past its budget ends the run uncharged (NAS-Bench-201's protocol).
 */
export class RunState {
  private spentBudget = 0;
  private charged = 0;
  private proposed = 0;
  private best: { result: TabulatedResult; tokens: readonly number[] } | undefined;
  private readonly seen = new Map<string, TabulatedResult>();
  private known = 0;
  private over = false;

  constructor(private readonly bench: TabularBenchmark) {}

  /** Whether the budget has run out. */
  get exhausted(): boolean {
    return this.over;
  }

  get proposals(): number {
    return this.proposed;
  }

  /** Proposals in a row answered from the run's own results for free; a search that keeps hitting known architectures has converged or exhausted the space. */
  get knownInARow(): number {
    return this.known;
  }

  /**
   * Evaluates `tokens`. With `reuse`, an architecture evaluated before in this run (or an isomorphic copy of
   * one) returns that result without being charged again; without it every evaluation is charged (the
   * published protocol of the baselines).
   */
  evaluate(tokens: readonly number[], reuse: boolean): Outcome {
    if (this.over) return { kind: 'exhausted' };
    this.proposed++;
    // Reuse looks architectures up by their canonical key: an isomorphic copy computes the same function.
    const key = this.bench.canonicalKey(tokens);
    const known = reuse ? this.seen.get(key) : undefined;
    if (known) {
      this.known++;
      return { kind: 'result', result: known, charged: false };
    }
    this.known = 0;
    const result = this.bench.evaluate(tokens);
    if (!result) return { kind: 'missing' };
    if (this.spentBudget + result.cost > this.bench.budget) {
      this.over = true;
      return { kind: 'exhausted' };
    }
    this.spentBudget += result.cost;
    this.charged++;
    // The first result of a canonical architecture is the one reused.
    if (!this.seen.has(key)) this.seen.set(key, result);
    if (!this.best || result.reward > this.best.result.reward) this.best = { result, tokens: [...tokens] };
    return { kind: 'result', result, charged: true };
  }

  /** Ends the run early (a strategy that can propose nothing new). */
  stop(): void {
    this.over = true;
  }

  /** The run's outcome; a run that evaluated nothing reports NaN. */
  result(): RunResult {
    return {
      bestTest: this.best?.result.test ?? NaN,
      bestReward: this.best?.result.reward ?? NaN,
      bestTokens: this.best?.tokens ?? [],
      evaluations: this.charged,
      distinct: this.seen.size,
      proposals: this.proposed,
      spent: this.spentBudget,
    };
  }
}
