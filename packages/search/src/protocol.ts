import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { Rng } from '@nasrl/controller';
import type { TabularBenchmark } from './benchmark';
import { SearchConfigError } from './errors';
import { Nb201Table } from './nb201-table';
import type { RunResult } from './run-state';
import { randomSearch, regularizedEvolution, reinforceSearch, type EvolutionOptions, type RandomSearchOptions, type ReinforceSearchOptions } from './strategies';
import { TableBenchmark } from './table-bench';

/** Which benchmark to run, in a form that can be sent to worker threads. */
export type BenchmarkSpec =
  | { readonly kind: 'nb201'; readonly file: string; readonly budgetSeconds?: number }
  | { readonly kind: 'table'; readonly file: string; readonly budgetEvaluations: number };

/** A strategy and its options. */
export type StrategySpec =
  | { readonly name: 'random'; readonly options?: RandomSearchOptions }
  | { readonly name: 'evolution'; readonly options?: EvolutionOptions }
  | { readonly name: 'reinforce'; readonly options?: ReinforceSearchOptions };

export const STRATEGY_NAMES = ['reinforce', 'random', 'evolution'] as const;

/** Mean and standard deviation of the reported figure over runs, with per-run means of what the runs did. */
export interface StrategySummary {
  readonly mean: number;
  readonly std: number;
  readonly runs: number;
  /** Evaluations charged per run. */
  readonly evaluations: number;
  /** Distinct architectures (by canonical key) charged per run. */
  readonly distinct: number;
  /** Architectures proposed per run, charged or not. */
  readonly proposals: number;
}

/** Loads the benchmark a spec names. */
export function loadBenchmark(spec: BenchmarkSpec): TabularBenchmark {
  return spec.kind === 'nb201' ? Nb201Table.load(spec.file, spec.budgetSeconds) : TableBenchmark.load(spec.file, spec.budgetEvaluations);
}

/** The generator of run `run` of a benchmark with base seed `seed`: independent of threads and of other strategies. */
export function runRng(seed: number, run: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(run + 1, 0x85ebca6b)) >>> 0);
}

/** Runs one strategy once. */
export function runStrategy(bench: TabularBenchmark, strategy: StrategySpec, rng: Rng): RunResult {
  switch (strategy.name) {
    case 'random':
      return randomSearch(bench, rng, strategy.options);
    case 'evolution':
      return regularizedEvolution(bench, rng, strategy.options);
    case 'reinforce':
      return reinforceSearch(bench, rng, strategy.options);
  }
}

/** Mean and population standard deviation of the reported figure, and mean evaluations, distinct architectures and proposals per run. */
export function summarize(results: readonly RunResult[]): StrategySummary {
  const xs = results.map((r) => r.bestTest);
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length));
  const perRun = (f: (r: RunResult) => number): number => results.reduce((a, r) => a + f(r), 0) / Math.max(1, results.length);
  return { mean, std, runs: results.length, evaluations: perRun((r) => r.evaluations), distinct: perRun((r) => r.distinct), proposals: perRun((r) => r.proposals) };
}

/** Options of a protocol run. */
export interface ProtocolOptions {
  readonly benchmark: BenchmarkSpec;
  readonly strategy: StrategySpec;
  readonly runs: number;
  readonly seed: number;
  /** Worker threads; default: the machine's available parallelism. 0 runs in this thread. */
  readonly threads?: number;
  /** Called after each finished run with the count so far. */
  readonly onProgress?: (done: number) => void;
}

/**
 * Runs `runs` independent searches of one strategy, spread over worker threads, and returns every run's
 * result in run order. Run k always uses runRng(seed, k), so results do not depend on the thread count.
 */
export async function runProtocol(options: ProtocolOptions): Promise<RunResult[]> {
  const { runs, seed } = options;
  if (!Number.isInteger(runs) || runs < 1) throw new SearchConfigError(`runs: expected a positive integer, got ${runs}`);
  const threads = Math.min(runs, options.threads ?? availableParallelism());
  const results: RunResult[] = new Array(runs);
  let done = 0;
  if (threads <= 0) {
    const bench = loadBenchmark(options.benchmark);
    for (let k = 0; k < runs; k++) {
      results[k] = runStrategy(bench, options.strategy, runRng(seed, k));
      options.onProgress?.(++done);
      await new Promise((r) => setImmediate(r));
    }
    return results;
  }
  const workers = Array.from({ length: threads }, (_, t) => {
    const indices = Array.from({ length: runs }, (_, k) => k).filter((k) => k % threads === t);
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(path.join(__dirname, 'protocol-worker.js'), {
        workerData: { benchmark: options.benchmark, strategy: options.strategy, seed, indices },
      });
      worker.on('message', (msg: { index: number; result: RunResult }) => {
        results[msg.index] = msg.result;
        options.onProgress?.(++done);
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`benchmark worker ${t} exited with code ${code}`))));
    });
  });
  await Promise.all(workers);
  return results;
}
