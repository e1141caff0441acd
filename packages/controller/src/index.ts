/**
 * The controller: an LSTM policy over a search space's tokens, trained with REINFORCE.
 *
 * @example
 * ```ts
 * import { Adam, ControllerPolicy, Rng, reinforceStep, stepRewards, EMPTY_BASELINE } from '@nasrl/controller';
 * const policy = new ControllerPolicy(space);
 * const params = policy.parameters();
 * const adam = new Adam({ learningRate: 0.0006 });
 * const samples = policy.sample(8, new Rng(1));
 * const rewards = stepRewards({ rewardScale: 1, rewardPower: 3, costReward: null }, accuracies.map((reward) => ({ reward })));
 * const step = reinforceStep(policy, samples, rewards, EMPTY_BASELINE, { baselineDecay: 0.95 });
 * adam.apply(params, step.gradients);
 * policy.setParameters(params);
 * ```
 */
export { ControllerPolicy } from './policy';
export type { PolicyOptions, CompiledPolicyOptions, SampledArchitecture, ScoredArchitecture } from './policy';
export { advantagesFor, reinforceGradient, reinforceStep, compileReinforceOptions, REINFORCE_DEFAULTS } from './reinforce';
export type { ReinforceOptions, ReinforceStep, StepAdvantages } from './reinforce';
export { costFactor, shapeReward, stepRewards } from './shaping';
export type { CostReward, RewardInputs, RewardShaping } from './shaping';
export { refusedReward, REFUSED_REWARD_DEFAULT, worstOf } from './refused';
export type { RefusedRewardRule } from './refused';
export { EMPTY_BASELINE, updateBaseline, baselineFor } from './baseline';
export type { BaselineState } from './baseline';
export { Adam, ADAM_DEFAULTS } from './adam';
export type { AdamOptions } from './adam';
export { Rng } from './rng';
export { sizeOf } from './tensors';
export type { NamedTensor } from './tensors';
export { ControllerConfigError, ParameterMismatchError } from './errors';
