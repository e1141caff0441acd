/**
 * Evaluators: what turns a sampled architecture into a reward, shared by the workers and the benchmarks
 * that run searches in one process (`nasrl bench proxy|search`).
 *
 *   const evaluator = new TrainEvaluator(config, 'auto', (record) => console.log(record));
 *   const { reward, accuracy } = await evaluator.evaluate({ tokens, layers, arch }, { progress: async () => {} });
 */
export type { ChildProgress, ChildToEvaluate, Evaluation, EvaluationContext, Evaluator } from './evaluator';
export { EvaluationCancelledError, sleep } from './evaluator';
export { TableEvaluator } from './table-evaluator';
export { TrainEvaluator, type TrainLog } from './train-evaluator';
export { TrainingPool, type PoolResult, type PoolTask, type TrainingPoolOptions } from './pool';
