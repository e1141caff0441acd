import { refusedReward, REFUSED_REWARD_DEFAULT, worstOf, type RefusedRewardRule } from './refused';

/**
 * The cost factor of a cost-aware reward, (cost / target)^weight (MnasNet): 1 at the target, below 1 above
 * it for a negative weight. A cost that is not positive and finite (unknown) gives 1.
 */
export function costFactor(cost: number, target: number, weight: number): number {
  if (!(cost > 0) || !Number.isFinite(cost) || weight === 0) return 1;
  return (cost / target) ** weight;
}

/**
 * The reward REINFORCE sees: (scale · reward)^power, sign kept. Scaling puts accuracies in [0, 1]; a power
 * above 1 widens the gaps between the best children (the paper cubes CIFAR-10 accuracies).
 */
export function shapeReward(reward: number, scale = 1, power = 1): number {
  const r = reward * scale;
  return power === 1 ? r : Math.sign(r) * Math.abs(r) ** power;
}

/** A cost-aware reward: the shaped reward times (cost / target)^weight. */
export interface CostReward {
  readonly metric: 'seconds' | 'parameters';
  readonly target: number;
  readonly weight: number;
}

/** The settings that turn evaluations into the rewards REINFORCE sees (an experiment's, or a benchmark's). */
export interface RewardShaping {
  /** Each raw reward is multiplied by this. */
  readonly rewardScale: number;
  /** The scaled reward is raised to this power. */
  readonly rewardPower: number;
  /** A cost factor to multiply in, or null. */
  readonly costReward: CostReward | null;
  /** The rule for refused children. Default 'worst'. */
  readonly refusedReward?: RefusedRewardRule;
}

/** What the reward of a step's child depends on: its raw reward and, for a cost-aware reward, its costs. */
export interface RewardInputs {
  /** The evaluator's raw reward (conv: the validation accuracy; rnn: c / perplexity²; tables: the table's reward). */
  readonly reward: number;
  /** Training seconds (the cost when costReward.metric is 'seconds'); absent: unknown. */
  readonly seconds?: number;
  /** Trainable parameters (the cost when costReward.metric is 'parameters'); absent: unknown. */
  readonly parameters?: number;
}

/**
 * The rewards REINFORCE sees for a step's children, the one place where rewards are shaped:
 * (rewardScale · reward)^rewardPower, times (cost / target)^weight when there is a cost-aware reward. A
 * refused child (null) gets the reward of the refusedReward rule; for 'worst', the worst of `worstSeen` (the
 * worst reward seen before, if any) and this step's rewards. The cluster's step processor and the benchmarks
 * (tabular and trained) all compute their rewards here, so that they optimise the same objective.
 */
export function stepRewards(shaping: RewardShaping, results: readonly (RewardInputs | null)[], worstSeen?: number): number[] {
  const cost = shaping.costReward;
  const shaped = results.map((r) => {
    if (r === null) return null;
    const s = shapeReward(r.reward, shaping.rewardScale, shaping.rewardPower);
    return cost ? s * costFactor((cost.metric === 'seconds' ? r.seconds : r.parameters) ?? NaN, cost.target, cost.weight) : s;
  });
  if (!shaped.includes(null)) return shaped as number[];
  const refused = refusedReward(shaping.refusedReward ?? REFUSED_REWARD_DEFAULT, worstOf(worstSeen, shaped.filter((s): s is number => s !== null)));
  return shaped.map((s) => s ?? refused);
}
