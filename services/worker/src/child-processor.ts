import {
  ExperimentStore, ExperimentStoppedError, InvalidJobError, childJobId, createSpace, evaluationRecord, parseChildJob,
  type ChildJob, type ChildResult, type ExperimentConfig,
} from '@nasrl/queue';
import type { SearchSpace } from '@nasrl/spaces';
import { TableEvaluator, TrainEvaluator, type EvaluationContext, type Evaluator, type TrainLog } from '@nasrl/evaluate';

/** An experiment as a worker needs it: configuration, space and evaluator, built once per process. */
export interface ExperimentContext {
  readonly config: ExperimentConfig;
  readonly space: SearchSpace;
  readonly evaluator: Evaluator;
}

/** Builds the evaluator of an experiment (a seam for tests). */
export type EvaluatorFactory = (config: ExperimentConfig) => Evaluator;

/** The default evaluators: table lookups, or training with @nasrl/child. */
export function defaultEvaluators(tfBackend: string, log: TrainLog): EvaluatorFactory {
  return (config) => (config.evaluator === 'table' ? TableEvaluator.forConfig(config) : new TrainEvaluator(config, tfBackend, log));
}

/**
 * Thrown by a worker that runs several simulated children in its own process (NASRL_WORKER_CHILDREN > 1)
 * when it is given a child to train; retryable: a training worker (one child per process) takes the retry.
 */
export class TrainingNotHostedError extends Error {
  readonly retryable = true;
  constructor(workerId: string, experiment: string, children: number) {
    super(`worker ${workerId} runs ${children} simulated children in one process and does not train; experiment ${experiment} trains its children: give it workers with NASRL_WORKER_CHILDREN=1`);
    this.name = 'TrainingNotHostedError';
  }
}

/**
 * The evaluators of a worker that runs `children` simulated children at once in its own process: table
 * lookups only (they sleep, and share one loaded table); training experiments are refused with
 * TrainingNotHostedError.
 */
export function simulatedEvaluators(workerId: string, children: number): EvaluatorFactory {
  return (config) => {
    if (config.evaluator !== 'table') throw new TrainingNotHostedError(workerId, config.id, children);
    return TableEvaluator.forConfig(config);
  };
}

/**
 * Evaluates child jobs: validates the payload, loads the experiment (cached per experiment; configurations
 * never change), refuses the children of a stopped experiment, answers from the results store or the reward cache when it can, otherwise evaluates, and
 * records the result once per child id.
 */
export class ChildProcessor {
  private readonly contexts = new Map<string, Promise<ExperimentContext>>();

  constructor(
    private readonly store: ExperimentStore,
    private readonly workerId: string,
    private readonly evaluators: EvaluatorFactory,
  ) {}

  /** Processes one child job payload; throws the evaluators' errors (non-retryable ones have retryable === false). */
  async process(data: unknown, context: EvaluationContext): Promise<ChildResult> {
    const job = parseChildJob(data);
    const childId = childJobId(job.experiment, job.stepId, job.index);
    const exp = await this.experiment(job.experiment);
    if (await this.store.isStopped(job.experiment)) throw new ExperimentStoppedError(job.experiment);
    // A retry after this child was recorded (the worker died before BullMQ heard back): the stored result stands.
    const recorded = await this.store.resultFor(job.experiment, childId);
    if (recorded !== null) return recorded.result;
    const arch = this.decode(exp.space, job);
    let result: ChildResult | null = null;
    if (exp.config.reuseEvaluations) {
      const hit = await this.store.cachedReward(job.experiment, job.archKey);
      if (hit !== null) result = { ...hit, cached: true };
    }
    if (result === null) {
      const evaluation = await exp.evaluator.evaluate({ tokens: job.tokens, layers: job.layers, arch }, context);
      result = { ...evaluation, worker: this.workerId, cached: false };
      if (exp.config.reuseEvaluations) await this.store.cacheReward(job.experiment, job.archKey, result);
    }
    if (!(await this.store.recordResult(job.experiment, childId, evaluationRecord(job, result)))) {
      // Another process recorded this child first; report what the store holds so both agree.
      const stored = await this.store.resultFor(job.experiment, childId);
      if (stored !== null) return stored.result;
    }
    return result;
  }

  private decode(space: SearchSpace, job: ChildJob): unknown {
    const arch = space.decode(job.tokens, job.layers);
    const key = space.key(arch);
    if (key !== job.archKey) throw new InvalidJobError('archKey', `${JSON.stringify(job.archKey)} does not match the tokens, whose key is ${JSON.stringify(key)}`);
    return arch;
  }

  private experiment(id: string): Promise<ExperimentContext> {
    let ctx = this.contexts.get(id);
    if (ctx === undefined) {
      ctx = (async () => {
        const config = await this.store.get(id);
        return { config, space: createSpace(config), evaluator: this.evaluators(config) };
      })();
      this.contexts.set(id, ctx);
      // Do not cache a failure: the experiment may be created later, or Redis come back.
      ctx.catch(() => this.contexts.delete(id));
    }
    return ctx;
  }
}
