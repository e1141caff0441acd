import { parentPort, workerData } from 'node:worker_threads';
import type { PoolResult, PoolTask } from './pool';
import { TrainEvaluator } from './train-evaluator';

// One thread of a TrainingPool: trains the children it is sent, one at a time, with the workers' evaluator.
// Evaluators are kept per training setting so that each dataset is loaded once per thread.
const evaluators = new Map<string, TrainEvaluator>();
const backend = (workerData as { backend: string }).backend;

parentPort?.on('message', (task: PoolTask) => {
  void (async () => {
    try {
      const key = JSON.stringify([task.config, task.seed ?? 1, task.test === true, task.lstm === true]);
      let evaluator = evaluators.get(key);
      if (evaluator === undefined) {
        evaluator = new TrainEvaluator(task.config, backend, () => undefined, { seed: task.seed ?? 1, test: task.test === true, lstm: task.lstm === true });
        evaluators.set(key, evaluator);
      }
      const result: PoolResult = await evaluator.evaluate(task.child, { progress: async () => undefined });
      parentPort?.postMessage({ result });
    } catch (err) {
      parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
