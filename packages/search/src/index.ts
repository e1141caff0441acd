/**
 * Search strategies measured on tabular benchmarks (NAS-Bench-201, or any table space file) under the
 * published protocol: REINFORCE with the cluster's controller, random search, regularized evolution. Any of
 * them can reuse evaluations (a repeated or isomorphic architecture costs no budget); random search and
 * evolution pay for every evaluation unless asked, as published.
 *
 * @example
 * ```ts
 * import { runProtocol, summarize } from '@nasrl/search';
 * const runs = await runProtocol({
 *   benchmark: { kind: 'nb201', file: '../shared/benchmarks/nas-bench-201.csv' },
 *   strategy: { name: 'random' }, runs: 500, seed: 1,
 * });
 * console.log(summarize(runs)); // { mean, std, runs, evaluations, distinct, proposals }
 * ```
 */
export type { TabularBenchmark, TabulatedResult } from './benchmark';
export { SearchConfigError } from './errors';
export { Nb201Table, NB201_PROTOCOL, NB201_SIZE } from './nb201-table';
export { TableBenchmark } from './table-bench';
export { RunState } from './run-state';
export type { RunResult, Outcome } from './run-state';
export { randomSearch, regularizedEvolution, reinforceSearch } from './strategies';
export type { EvolutionOptions, RandomSearchOptions, ReinforceSearchOptions, ReinforceSearchStep, ReuseOptions } from './strategies';
export { runProtocol, runStrategy, runRng, summarize, loadBenchmark, STRATEGY_NAMES } from './protocol';
export type { BenchmarkSpec, StrategySpec, StrategySummary, ProtocolOptions } from './protocol';
