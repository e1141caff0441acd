import { stepAdvantages, stepRewards } from './advantages';
import { parseStepJob, readStepResults, type ExperimentStore, type ParentJobLike } from '@nasrl/queue';
import type { ParameterServerClient, ShardPushResult } from '@nasrl/ps';
import { retryTransient } from './retry';
import { decodeStepParameters, StepParametersFormatError, type StepParameters } from './step-parameters';
import { forShards, layersArg, type ExperimentRuntime } from './experiment';
import { movingAverage, type StepObserver } from './observe';

/**
 * What processing a step did: the rewards (of the children with a result and the refused ones, in index
 * order), the baseline subtracted, and each shard's answer to the push.
 */
export interface StepSummary {
  readonly stepId: string;
  readonly rewards: number[];
  readonly baseline: number;
  /** Children without a result: refused ones, and those that failed every attempt. */
  readonly failedChildren: number;
  /** Children whose architecture the evaluator refused; they count with the experiment's refusedReward. */
  readonly refusedChildren: number;
  readonly push: ShardPushResult[];
  /**
   * Where the parameters of the gradient came from: 'sampling' (those the step sampled from, as SPEC section 5
   * has it) or 'current' (pulled now, when the stored ones were gone: expired, or a step enqueued without them).
   */
  readonly parametersFrom: 'sampling' | 'current' | 'none';
  /** Why the stored parameters could not be used, when they were there but unreadable. */
  readonly parametersError?: string;
}

// The stored parameters of a step; a corrupt record is reported, not fatal: the step then uses the current ones.
async function samplingParameters(store: ExperimentStore, experiment: string, stepId: string): Promise<{ tensors?: StepParameters['tensors']; error?: string }> {
  const blob = await store.stepParameters(experiment, stepId);
  if (!blob) return {};
  try {
    return { tensors: decodeStepParameters(blob).tensors };
  } catch (err) {
    if (err instanceof StepParametersFormatError) return { error: err.message };
    throw err;
  }
}

/** Dependencies of the step processor. */
export interface StepProcessorOptions {
  readonly store: ExperimentStore;
  readonly params: ParameterServerClient;
  /** The runtime (space, policy) of an experiment, built once per process. */
  readonly runtime: (experiment: string) => Promise<ExperimentRuntime>;
  /** Told about each completed step (rewards, baseline, staleness), for metrics. Default: none. */
  readonly metrics?: StepObserver;
}

/**
 * Completes a controller step once all its children are done: the rewards, the shared EMA baseline, the
 * REINFORCE gradient at the parameters the step sampled from, and the push to every shard under the step's
 * id. Any replica may run it (a step whose replica died is completed by another); the shards apply a step id
 * once, and the baseline counts a step id once, so a retried step changes nothing twice, and since the
 * gradient is computed from stored inputs only, a retry pushes the same gradient to a shard the first
 * attempt missed.
 */
export function createStepProcessor(o: StepProcessorOptions): (job: ParentJobLike) => Promise<StepSummary> {
  // Per experiment, the EMA of raw rewards this process has seen.
  const averages = new Map<string, number>();
  const observe = (experiment: string, raw: readonly number[], accuracies: readonly number[], failedChildren: number, baseline: number, push: readonly ShardPushResult[]): void => {
    if (!o.metrics) return;
    const average = movingAverage(averages.get(experiment), raw);
    if (average !== undefined) averages.set(experiment, average);
    o.metrics.stepCompleted({
      experiment, rawRewards: raw, accuracies, failedChildren, rewardMovingAverage: average ?? NaN, baseline,
      stalenesses: push.filter((p) => p.status !== 'duplicate').map((p) => p.staleness),
    });
  };
  return async (job) => {
    const step = parseStepJob(job.data);
    const { config, space, policy } = await o.runtime(step.experiment);
    const outcomes = await readStepResults(job);
    // A refused child (over the limits, missing from a table) is the architecture's fault and earns the
    // experiment's refusedReward; a child that failed every attempt for another reason teaches nothing.
    const counted = outcomes.filter((c) => c.result !== null || c.refused);
    const usable = counted.flatMap((c) => (c.result ? [c.result] : []));
    const refusedChildren = counted.length - usable.length;
    const raw = usable.map((r) => r.reward);
    const accuracies = usable.map((r) => r.accuracy);
    if (counted.length === 0) {
      await o.store.markStepApplied(step.experiment, step.stepId);
      await o.store.dropStepParameters(step.experiment, step.stepId);
      observe(step.experiment, raw, accuracies, outcomes.length, NaN, []);
      return { stepId: step.stepId, rewards: [], baseline: NaN, failedChildren: outcomes.length, refusedChildren, push: [], parametersFrom: 'none' };
    }
    const worst = await o.store.foldWorstReward(step.experiment, step.stepId, stepRewards(config, usable));
    const rewards = stepRewards(config, counted.map((c) => c.result), worst);
    const { before, after } = await o.store.updateBaseline(step.experiment, rewards, config.baselineDecay, step.stepId);
    const { baseline: b, advantages } = stepAdvantages(rewards, before);
    const sampling = await samplingParameters(o.store, step.experiment, step.stepId);
    const parametersFrom = sampling.tensors ? 'sampling' : 'current';
    policy.setParameters(sampling.tensors ?? (await retryTransient(() => o.params.pull(step.experiment))).tensors);
    const batch = counted.map((c, k) => ({ tokens: (step.samples[c.index] as { tokens: readonly number[] }).tokens, advantage: advantages[k] as number }));
    const { gradients } = policy.gradient(batch, layersArg(space, step.layers), config.entropyWeight);
    // The base versions are those the architectures were sampled with: the shards measure staleness from them.
    const push = await retryTransient(() => o.params.push(step.experiment, step.stepId, String(step.replica), forShards(gradients), step.parameterVersions));
    await o.store.markStepApplied(step.experiment, step.stepId);
    await o.store.dropStepParameters(step.experiment, step.stepId);
    observe(step.experiment, raw, accuracies, outcomes.length - usable.length, after.value, push);
    return {
      stepId: step.stepId, rewards, baseline: b, failedChildren: outcomes.length - usable.length, refusedChildren, push, parametersFrom,
      ...(sampling.error ? { parametersError: sampling.error } : {}),
    };
  };
}
