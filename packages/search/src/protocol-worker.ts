import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadBenchmark, runRng, runStrategy, type BenchmarkSpec, type StrategySpec } from './protocol';

// One worker thread of runProtocol: runs its share of the runs and posts each result as it finishes.
interface Job {
  benchmark: BenchmarkSpec;
  strategy: StrategySpec;
  seed: number;
  indices: number[];
}

async function main(): Promise<void> {
  const job = workerData as Job;
  // Production mode: no debug checks, and no advice to install the native backend on every thread.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const bench = loadBenchmark(job.benchmark);
  for (const index of job.indices) {
    parentPort?.postMessage({ index, result: runStrategy(bench, job.strategy, runRng(job.seed, index)) });
  }
}

main().catch((err: unknown) => {
  throw err;
});
