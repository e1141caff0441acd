/**
 * The Redis side of the cluster: experiment configurations, the shared baseline and budget, the results store
 * and reward cache (ExperimentStore), the job schemas, and the BullMQ flow of a controller step.
 *
 * @example
 * ```ts
 * import { FlowProducer } from 'bullmq';
 * import { connectRedis, ExperimentStore, parseExperimentConfig, enqueueStep, readStepResults } from '@nasrl/queue';
 * const redis = connectRedis('redis://127.0.0.1:6379');
 * const store = new ExperimentStore(redis);
 * const config = await store.create(parseExperimentConfig({ id: 'nb', space: 'nb201', tablePath: 'nas-bench-201.csv' }));
 * const reservation = await store.reserve('nb', 0, config.childrenPerStep); // null once the budget is spent
 * const { stepId, granted, sampledBefore } = reservation;
 * await enqueueStep(new FlowProducer({ connection: redis }), step, children); // parent + m children, one flow
 * await store.releaseReservation('nb', stepId);
 * // later, in the steps-queue worker: const outcomes = await readStepResults(parentJob);
 * const { before } = await store.updateBaseline('nb', rewards, config.baselineDecay, stepId);
 * ```
 */
export type {
  ExperimentConfig, ExperimentCostReward, ExperimentLimits, ExperimentPolicyOptions, ExperimentTrainingOptions, EvaluatorName, SpaceName, TrainingDatasetName,
} from './config';
export type { ExperimentRnnOptions, RnnCorpusLevel, RnnCorpusName } from './rnn-config';
export { RNN_CORPORA, RNN_EXPERIMENT_DEFAULTS, RNN_LEVELS } from './rnn-config';
export { EVALUATOR_NAMES, EXPERIMENT_DEFAULTS, EXPERIMENT_ID_PATTERN, SPACE_NAMES, TRAINING_DATASETS, parseExperimentConfig } from './config';
export type { ChildJob, ChildResult, StepJob, StepSample } from './jobs';
export { STEP_ID_PATTERN, childJobId, parseChildJob, parseChildResult, parseStepJob, stepJobId } from './jobs';
export type { BaselineUpdate, EvaluationRecord, Reservation, StoredEvaluation } from './store';
export { ExperimentStore, evaluationRecord, replicaStepId } from './store';
export { EXPERIMENTS_KEY, KEY_PREFIX, experimentKeys } from './keys';
export type { ChildOutcome, EnqueuedStep, EnqueueOptions, ParentJobLike } from './queues';
export { CHILDREN_QUEUE, DEFAULT_QUEUE_PREFIX, ENQUEUE_DEFAULTS, QUEUE_PREFIX_PATTERN, STEPS_QUEUE, childJobOptions, enqueueStep, isRefusal, readStepResults } from './queues';
export type { ConnectOptions } from './redis';
export { connectRedis, redisOptionsFromUrl } from './redis';
export { createSpace } from './space';
export { ConflictError, EvaluationRefusedError, ExperimentNotFoundError, ExperimentStoppedError, InvalidConfigError, InvalidJobError, isNonRetryable } from './errors';
export type { StartRedisServerOptions, TestRedisServer } from './testing/redis-server';
export { freePort, startRedisServer } from './testing/redis-server';
