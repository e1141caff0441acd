/**
 * What REINFORCE sees for a refused child (an architecture over the limits, or missing from a table): 'worst'
 * gives it the worst reward seen so far (0 before any), so the controller learns to avoid such architectures
 * without a penalty that dwarfs the rewards of the space; a number gives it that reward. Both are rewards as
 * REINFORCE sees them, after scaling, power and cost factor.
 */
export type RefusedRewardRule = 'worst' | number;

/** The default rule: the worst reward seen so far. */
export const REFUSED_REWARD_DEFAULT: RefusedRewardRule = 'worst';

/** The reward of a refused child under `rule`, given the worst (shaped) reward seen so far (undefined: none yet). */
export function refusedReward(rule: RefusedRewardRule, worstSeen: number | undefined): number {
  if (rule === 'worst') return worstSeen ?? 0;
  if (!Number.isFinite(rule)) throw new RangeError(`refusedReward: the rule must be 'worst' or a finite number, got ${rule}`);
  return rule;
}

/** The smaller of `worst` (undefined: none) and every reward in `rewards`; undefined when both are empty. */
export function worstOf(worst: number | undefined, rewards: readonly number[]): number | undefined {
  let w = worst;
  for (const r of rewards) if (w === undefined || r < w) w = r;
  return w;
}
