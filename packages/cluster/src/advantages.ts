import { baselineFor, costFactor, refusedReward, REFUSED_REWARD_DEFAULT, shapeReward, worstOf, type BaselineState } from '@nasrl/controller';
import type { ExperimentConfig } from '@nasrl/queue';

/** What the reward of a step's child depends on: its raw reward and, for a cost-aware reward, its costs. */
export interface RewardInputs {
  readonly reward: number;
  /** Training seconds (the cost when costReward.metric is 'seconds'). */
  readonly seconds: number;
  /** Trainable parameters (the cost when costReward.metric is 'parameters'). */
  readonly parameters: number;
}

/** The experiment settings that decide a step's rewards; refusedReward defaults to 'worst'. */
export type RewardConfig = Pick<ExperimentConfig, 'rewardScale' | 'rewardPower' | 'costReward'> & Partial<Pick<ExperimentConfig, 'refusedReward'>>;

/**
 * The rewards REINFORCE sees for a step's children: (rewardScale · reward)^rewardPower, times
 * (cost / target)^weight when the experiment has a cost-aware reward. A refused child (null) gets the reward
 * of the experiment's refusedReward rule; for 'worst', the worst of `worstSeen` (the worst reward seen before,
 * if any) and this step's rewards. The step processor and the single-process benchmarks compute them here so
 * that both optimise the same objective.
 */
export function stepRewards(config: RewardConfig, results: readonly (RewardInputs | null)[], worstSeen?: number): number[] {
  const cost = config.costReward;
  const shaped = results.map((r) => {
    if (r === null) return null;
    const s = shapeReward(r.reward, config.rewardScale, config.rewardPower);
    return cost ? s * costFactor(cost.metric === 'seconds' ? r.seconds : r.parameters, cost.target, cost.weight) : s;
  });
  if (!shaped.includes(null)) return shaped as number[];
  const refused = refusedReward(config.refusedReward ?? REFUSED_REWARD_DEFAULT, worstOf(worstSeen, shaped.filter((s): s is number => s !== null)));
  return shaped.map((s) => s ?? refused);
}

/**
 * The advantages of a step's rewards against the EMA baseline as it was before the step (`before`); on the
 * first step (no reward seen yet) the batch mean stands in for it, as baselineFor says.
 */
export function stepAdvantages(rewards: readonly number[], before: BaselineState): { baseline: number; advantages: number[] } {
  const baseline = baselineFor(before, rewards);
  return { baseline, advantages: rewards.map((r) => r - baseline) };
}
