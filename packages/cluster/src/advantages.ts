import { baselineFor, costFactor, shapeReward, type BaselineState } from '@nasrl/controller';
import type { ExperimentConfig } from '@nasrl/queue';

/** What the reward of a step's child depends on: its raw reward and, for a cost-aware reward, its costs. */
export interface RewardInputs {
  readonly reward: number;
  /** Training seconds (the cost when costReward.metric is 'seconds'). */
  readonly seconds: number;
  /** Trainable parameters (the cost when costReward.metric is 'parameters'). */
  readonly parameters: number;
}

/**
 * The rewards REINFORCE sees for a step's finished children: (rewardScale · reward)^rewardPower, times
 * (cost / target)^weight when the experiment has a cost-aware reward. The step processor and the
 * single-process benchmarks compute them here so that both optimise the same objective.
 */
export function stepRewards(config: Pick<ExperimentConfig, 'rewardScale' | 'rewardPower' | 'costReward'>, results: readonly RewardInputs[]): number[] {
  const cost = config.costReward;
  return results.map((r) => {
    const shaped = shapeReward(r.reward, config.rewardScale, config.rewardPower);
    if (!cost) return shaped;
    return shaped * costFactor(cost.metric === 'seconds' ? r.seconds : r.parameters, cost.target, cost.weight);
  });
}

/**
 * The advantages of a step's rewards against the EMA baseline as it was before the step (`before`); on the
 * first step (no reward seen yet) the batch mean stands in for it, as baselineFor says.
 */
export function stepAdvantages(rewards: readonly number[], before: BaselineState): { baseline: number; advantages: number[] } {
  const baseline = baselineFor(before, rewards);
  return { baseline, advantages: rewards.map((r) => r - baseline) };
}
