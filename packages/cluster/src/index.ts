/**
 * The cluster's controller side: a replica's loop (pull θ, sample m, enqueue, wait) and the step processor
 * that turns a finished step into a REINFORCE gradient pushed to the parameter servers.
 *
 * @example
 * ```ts
 * import { ControllerReplica, createStepProcessor, experimentRuntime } from '@nasrl/cluster';
 * const runtime = experimentRuntime(await store.get('exp1'));
 * const replica = new ControllerReplica({ runtime, replica: 0, store, params, flow, stepsQueue, stepsEvents, metrics });
 * // metrics (optional): anything with sampled()/stepCompleted(), e.g. controllerMetrics(registry) of @nasrl/metrics
 * new Worker(STEPS_QUEUE, createStepProcessor({ store, params, runtime: async () => runtime, metrics }), { connection });
 * await replica.run();
 * ```
 */
export { ControllerReplica, initOnce } from './replica';
export type { ReplicaOptions, ReplicaSummary } from './replica';
export { createStepProcessor } from './step-processor';
export type { DroppedPush, StepLog, StepProcessorOptions, StepSummary } from './step-processor';
export { experimentRuntime, forShards, hashSeed, depthFor, layersArg, runtimeCache } from './experiment';
export type { ExperimentRuntime } from './experiment';
export { retryTransient } from './retry';
export { decodeStepParameters, encodeStepParameters, StepParametersFormatError } from './step-parameters';
export type { StepParameters } from './step-parameters';
export { movingAverage, REWARD_AVERAGE_DECAY } from './observe';
export type { SampleObserver, StepObservation, StepObserver } from './observe';
