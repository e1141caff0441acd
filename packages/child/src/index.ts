/**
 * Child networks: a convolutional architecture → a TensorFlow.js model (explicit variables), checked against
 * limits before allocation, trained with Nesterov momentum SGD; a child reports its best recent validation
 * accuracy, which the experiment shapes into REINFORCE's reward (stepRewards of @nasrl/controller).
 *
 * @example
 * ```ts
 * import { selectBackend } from '@nasrl/tf';
 * import { loadDataset } from '@nasrl/datasets';
 * import { REFERENCE_CHILD, trainChild } from '@nasrl/child';
 * await selectBackend();
 * const data = loadDataset({ name: 'fashion-mnist', subset: 10000 });
 * const result = await trainChild(REFERENCE_CHILD, data, { epochs: 3 }, { onEpoch: (e) => console.log(e) });
 * console.log(result.curve, result.bestValidationAccuracy);
 * ```
 */
export type { ChildLimits, ChildPlan, InputShape, LayerPlan, Padding, PoolStride } from './plan';
export { CHILD_LIMIT_DEFAULTS, planChild } from './plan';
export type { BatchNormOptions } from './model';
export { ChildModel } from './model';
export type { CompiledTrainOptions, EpochReport, LearningRateSchedule, TrainHooks, TrainOptions, TrainResult } from './trainer';
export { bestRecentAccuracy, compileTrainOptions, evaluate, learningRateAt, trainChild } from './trainer';
export { REFERENCE_CHILD } from './reference';
export { expectNoLeakedTensors } from './leaks';
export { ArchitectureTooLargeError, TrainingCancelledError, TrainingOptionError } from './errors';
export type { LayerState, LayerWeights, LeafPlan, LmCell } from './lm-cell';
export { gateCount, lstmStep, planLeaves, rnnCellStep, runLayer } from './lm-cell';
export type { LmSegment, LmShape, LmVariable } from './lm-model';
export { LanguageModel, checkLmShape, disposeState, lmParameterCount } from './lm-model';
export type { CompiledLmTrainOptions, LmData, LmEpochReport, LmStepSettings, LmTrainHooks, LmTrainOptions, LmTrainResult } from './lm-trainer';
export { SegmentReader, compileLmTrainOptions, lmLearningRate, lmTrainStep, perplexityOn, perplexityReward, trainLanguageModel } from './lm-trainer';
