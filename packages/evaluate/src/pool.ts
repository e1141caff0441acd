import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ExperimentConfig } from '@nasrl/queue';
import type { ChildToEvaluate, Evaluation } from './evaluator';

/** One training of a pool: an experiment's training settings applied to one child. */
export interface PoolTask {
  readonly config: ExperimentConfig;
  readonly child: ChildToEvaluate;
  /** Seed of the child's weights and shuffles. Default 1 (what workers use). */
  readonly seed?: number;
  /** Also report the accuracy on the dataset's test split. Default false. */
  readonly test?: boolean;
  /** rnn experiments: train the LSTM baseline instead of the child's cell (its tokens are ignored). Default false. */
  readonly lstm?: boolean;
}

/** What a pool returns: the worker's evaluation, and the test accuracy when asked for. */
export type PoolResult = Evaluation & { readonly testAccuracy?: number };

/** Options of TrainingPool. */
export interface TrainingPoolOptions {
  /** Threads, each with its own TensorFlow.js backend. Default: the machine's available parallelism. */
  threads?: number;
  /** Backend preference of every thread ('auto', 'wasm', 'cpu', ...). Default 'auto'. */
  backend?: string;
}

interface Pending {
  readonly task: PoolTask;
  readonly resolve: (r: PoolResult) => void;
  readonly reject: (e: Error) => void;
}

/**
 * Trains children on worker threads with the workers' own TrainEvaluator, a child per thread at a time, so
 * that a benchmark uses every core the way a cluster of one-core workers would. Tasks run in the order they
 * are given; close() ends the threads.
 *
 *   const pool = new TrainingPool({ threads: 2 });
 *   const result = await pool.train({ config, child: { tokens, layers, arch } });
 *   await pool.close();
 */
export class TrainingPool {
  readonly threads: number;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Worker, Pending>();
  private closed = false;

  constructor(options: TrainingPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? os.availableParallelism());
    for (let i = 0; i < this.threads; i++) {
      const worker = new Worker(path.join(__dirname, 'pool-thread.js'), { workerData: { backend: options.backend ?? 'auto' } });
      worker.on('message', (message: { result?: PoolResult; error?: string }) => this.finished(worker, message));
      worker.on('error', (err) => this.failed(worker, err));
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** Trains one child; rejects with the thread's error message when training fails. */
  train(task: PoolTask): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new Error('TrainingPool.train after close()'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; tasks not started are rejected. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('TrainingPool closed'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const pending = this.queue.shift() as Pending;
      this.running.set(worker, pending);
      worker.postMessage(pending.task);
    }
  }

  private finished(worker: Worker, message: { result?: PoolResult; error?: string }): void {
    const pending = this.running.get(worker);
    this.running.delete(worker);
    if (!this.closed) this.idle.push(worker);
    if (message.result !== undefined) pending?.resolve(message.result);
    else pending?.reject(new Error(message.error ?? 'training failed'));
    this.dispatch();
  }

  private failed(worker: Worker, err: Error): void {
    const pending = this.running.get(worker);
    this.running.delete(worker);
    pending?.reject(err);
    for (const p of this.queue.splice(0)) p.reject(new Error(`a training thread died: ${err.message}`));
  }
}
