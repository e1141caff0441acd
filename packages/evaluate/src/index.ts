/**
 * Evaluators: what turns a sampled architecture into a reward, shared by the workers and the benchmarks
 * that run searches in one process (`nasrl bench proxy|search`).
 *
 *   const evaluator = new TrainEvaluator(config, 'auto', (record) => console.log(record));
 *   const { reward, accuracy } = await evaluator.evaluate({ tokens, layers, arch }, { progress: async () => {} });
 *   // An experiment of space 'rnn' trains language-model children: accuracy is 1 / perplexity, and the result carries the perplexity.
 */
export type { ChildProgress, ChildToEvaluate, Evaluation, EvaluationContext, Evaluator } from './evaluator';
export { EvaluationCancelledError, sleep } from './evaluator';
export { TableEvaluator } from './table-evaluator';
export { TrainEvaluator, type TrainLog } from './train-evaluator';
export { LmEvaluator, perplexityAccuracy } from './lm-evaluator';
export { TrainingPool, type PoolResult, type PoolTask, type TrainingPoolOptions } from './pool';
