import { advantagesFor, reinforceGradient, stepRewards } from '@nasrl/controller';
import { parseStepJob, readStepResults, type ExperimentStore, type ParentJobLike } from '@nasrl/queue';
import type { ParameterServerClient, ShardPushResult, StaleReason } from '@nasrl/ps';
import { retryTransient } from './retry';
import { decodeStepParameters, StepParametersFormatError, type StepParameters } from './step-parameters';
import { forShards, layersArg, type ExperimentRuntime } from './experiment';
import { movingAverage, type StepObserver } from './observe';

/**
 * What processing a step did: the rewards (of the children with a result and the refused ones, in index
 * order), the baseline subtracted, the advantages, and each shard's answer to the push.
 */
export interface StepSummary {
  readonly stepId: string;
  readonly rewards: number[];
  readonly baseline: number;
  /** The advantage of each reward, as the gradient used it (advantagesFor of @nasrl/controller). */
  readonly advantages: number[];
  /** Children without a result: refused ones, and those that failed every attempt. */
  readonly failedChildren: number;
  /** Children whose architecture the evaluator refused; they count with the experiment's refusedReward. */
  readonly refusedChildren: number;
  readonly push: ShardPushResult[];
  /** True when the experiment was stopped (`nasrl stop`) before the step was processed: nothing was pushed. */
  readonly stopped: boolean;
  /**
   * Shards that refused the push as stale (for example one restored from an older checkpoint): the step is
   * applied on the other shards and dropped on these (the policy is in docs/design.md). Empty when every shard
   * applied it, or had already.
   */
  readonly droppedOn: readonly DroppedPush[];
  /**
   * Where the parameters of the gradient came from: 'sampling' (those the step sampled from, as SPEC section 5
   * has it) or 'current' (pulled now, when the stored ones were gone: expired, or a step enqueued without them).
   */
  readonly parametersFrom: 'sampling' | 'current' | 'none';
  /** Why the stored parameters could not be used, when they were there but unreadable. */
  readonly parametersError?: string;
}

/** A shard that refused a step's push as stale, and why (its message names the versions). */
export interface DroppedPush {
  readonly shard: number;
  readonly reason: StaleReason | 'unknown';
  readonly staleness: number;
  readonly message: string;
}

/** A structured log record of the step processor (the controller service prints them as JSON lines). */
export type StepLog = (record: { event: string; level: 'info' | 'warn' | 'error' } & Record<string, unknown>) => void;

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
  /** Where a step applied on some shards only, and each failed child, is reported (level warn). Default: nowhere. */
  readonly log?: StepLog;
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
  const observe = (
    experiment: string, raw: readonly number[], accuracies: readonly number[], failedChildren: number, baseline: number,
    push: readonly ShardPushResult[], droppedOn: readonly DroppedPush[],
  ): void => {
    if (!o.metrics) return;
    const average = movingAverage(averages.get(experiment), raw);
    if (average !== undefined) averages.set(experiment, average);
    o.metrics.stepCompleted({
      experiment, rawRewards: raw, accuracies, failedChildren, rewardMovingAverage: average ?? NaN, baseline,
      stalenesses: push.filter((p) => p.status !== 'duplicate' && p.status !== 'rejected-stale').map((p) => p.staleness),
      droppedPushes: droppedOn.map((d) => ({ shard: d.shard, reason: d.reason })),
    });
  };
  return async (job) => {
    const step = parseStepJob(job.data);
    // A stopped experiment learns nothing more: its children were cancelled or refused, and its shards stay as they are.
    if (await o.store.isStopped(step.experiment)) {
      return { stepId: step.stepId, rewards: [], baseline: NaN, advantages: [], failedChildren: step.samples.length, refusedChildren: 0, push: [], stopped: true, droppedOn: [], parametersFrom: 'none' };
    }
    const { config, space, policy } = await o.runtime(step.experiment);
    const outcomes = await readStepResults(job);
    // A child that failed for good (every attempt, or stalled past maxStalledCount) is one the step goes without.
    for (const c of outcomes) {
      if (c.result !== null || c.refused) continue;
      o.log?.({
        event: 'child-failed', level: 'warn', experiment: step.experiment, step: step.stepId, job: c.childId, reason: c.error,
        message: `child job ${c.childId} failed (${c.error ?? 'no reason'}); step ${step.stepId} completes without it`,
      });
    }
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
      observe(step.experiment, raw, accuracies, outcomes.length, NaN, [], []);
      return { stepId: step.stepId, rewards: [], baseline: NaN, advantages: [], failedChildren: outcomes.length, refusedChildren, push: [], stopped: false, droppedOn: [], parametersFrom: 'none' };
    }
    const worst = await o.store.foldWorstReward(step.experiment, step.stepId, stepRewards(config, usable));
    const rewards = stepRewards(config, counted.map((c) => c.result), worst);
    // The shared baseline is folded in Redis (once per step id, atomically across replicas); the advantages are
    // those of the benchmarks' REINFORCE (advantagesFor) against the state the store had before this step.
    const { before, after } = await o.store.updateBaseline(step.experiment, rewards, config.baselineDecay, step.stepId);
    const { baseline: b, advantages } = advantagesFor(rewards, before, { baselineDecay: config.baselineDecay });
    const sampling = await samplingParameters(o.store, step.experiment, step.stepId);
    const parametersFrom = sampling.tensors ? 'sampling' : 'current';
    policy.setParameters(sampling.tensors ?? (await retryTransient(() => o.params.pull(step.experiment))).tensors);
    const samples = counted.map((c) => step.samples[c.index] as { tokens: readonly number[] });
    const { gradients } = reinforceGradient(policy, samples, advantages, layersArg(space, step.layers), config.entropyWeight);
    // The base versions are those the architectures were sampled with: the shards measure staleness from them.
    const push = await retryTransient(() => o.params.push(step.experiment, step.stepId, String(step.replica), forShards(gradients), step.parameterVersions));
    // A shard that refuses the push as stale would refuse a retry too: the step counts as applied, dropped on
    // that shard (docs/design.md says why not re-push), and is reported so that a partial step is never silent.
    const droppedOn = push.flatMap((p): DroppedPush[] =>
      p.status === 'rejected-stale' ? [{ shard: p.shard, reason: p.reason ?? 'unknown', staleness: p.staleness, message: p.message ?? '' }] : []);
    if (droppedOn.length > 0) {
      o.log?.({
        event: 'step-partly-applied', level: 'warn', experiment: step.experiment, step: step.stepId,
        appliedOn: push.filter((p) => p.status !== 'rejected-stale').map((p) => p.shard), droppedOn,
        message: `step ${step.stepId} was applied on ${push.length - droppedOn.length} of ${push.length} shards and dropped on shard(s) ${droppedOn.map((d) => d.shard).join(', ')}, which refused it as stale`,
      });
    }
    await o.store.markStepApplied(step.experiment, step.stepId);
    await o.store.dropStepParameters(step.experiment, step.stepId);
    observe(step.experiment, raw, accuracies, outcomes.length - usable.length, after.value, push, droppedOn);
    return {
      stepId: step.stepId, rewards, baseline: b, advantages, failedChildren: outcomes.length - usable.length, refusedChildren, push, stopped: false, droppedOn, parametersFrom,
      ...(sampling.error ? { parametersError: sampling.error } : {}),
    };
  };
}
