import {
  Adam, ControllerPolicy, EMPTY_BASELINE, REFUSED_REWARD_DEFAULT, reinforceStep, stepRewards, worstOf,
  type NamedTensor, type PolicyOptions, type RefusedRewardRule, type RewardInputs, type RewardShaping, type Rng,
} from '@nasrl/controller';
import type { TabularBenchmark } from './benchmark';
import { SearchConfigError } from './errors';
import { RunState, type RunResult } from './run-state';

/** Options of the tabular strategies that can reuse evaluations (random search, regularized evolution). */
export interface ReuseOptions {
  /**
   * Do not charge the budget again for an architecture already evaluated in the run (or an isomorphic copy of
   * one): its known reward is used instead. Default false, the published protocol, where every evaluation is paid.
   */
  reuseEvaluations?: boolean;
  /** With reuse: stop once this many proposals in a row were architectures already evaluated (the space is exhausted or the search has converged). Default 200. */
  patience?: number;
}

/** Options of random search. */
export type RandomSearchOptions = ReuseOptions;

/**
 * Random search: uniform architectures until the budget runs out. By default each evaluation is charged, repeats
 * included; with reuse a repeat is free, so the search in effect draws again until it finds a new architecture.
 */
export function randomSearch(bench: TabularBenchmark, rng: Rng, options: RandomSearchOptions = {}): RunResult {
  const { reuse, patience } = reuseSettings(options);
  const state = new RunState(bench);
  const sizes = choiceSizes(bench);
  let misses = 0;
  while (!state.exhausted) {
    const outcome = state.evaluate(sizes.map((n) => rng.int(n)), reuse);
    if (outcome.kind === 'missing' && ++misses > 100 * bench.budget + 1000) state.stop();
    if (state.knownInARow >= patience) state.stop();
  }
  return state.result();
}

/** Options of regularized evolution (Real et al. 2019), with NAS-Bench-201's settings as defaults. */
export interface EvolutionOptions extends ReuseOptions {
  /** Default 10. */
  population?: number;
  /** Tournament size. Default 3. */
  tournament?: number;
}

/**
 * Regularized evolution: a random population, then repeatedly the best of a random tournament is mutated
 * (one token changed to another choice), the child evaluated and the oldest member removed. With reuse, a
 * child already evaluated in the run joins the population with its known reward without being charged, so
 * the search follows the same course as without reuse but pays only for new architectures.
 */
export function regularizedEvolution(bench: TabularBenchmark, rng: Rng, options: EvolutionOptions = {}): RunResult {
  const population = options.population ?? 10;
  const tournament = options.tournament ?? 3;
  if (!Number.isInteger(population) || population < 1) throw new SearchConfigError(`population: expected a positive integer, got ${population}`);
  if (!Number.isInteger(tournament) || tournament < 1 || tournament > population) {
    throw new SearchConfigError(`tournament: expected an integer in [1, population], got ${tournament}`);
  }
  const { reuse, patience } = reuseSettings(options);
  const state = new RunState(bench);
  const sizes = choiceSizes(bench);
  const members: { tokens: number[]; reward: number }[] = [];
  let misses = 0;
  const tryAdd = (tokens: number[]): void => {
    const outcome = state.evaluate(tokens, reuse);
    if (outcome.kind === 'result') members.push({ tokens, reward: outcome.result.reward });
    else if (outcome.kind === 'missing' && ++misses > 100 * bench.budget + 1000) state.stop();
    if (state.knownInARow >= patience) state.stop();
  };
  while (!state.exhausted && members.length < population) tryAdd(sizes.map((n) => rng.int(n)));
  while (!state.exhausted) {
    let parent: { tokens: number[]; reward: number } | undefined;
    for (let i = 0; i < tournament; i++) {
      const candidate = members[rng.int(members.length)] as { tokens: number[]; reward: number };
      if (!parent || candidate.reward > parent.reward) parent = candidate;
    }
    const child = mutate((parent as { tokens: number[] }).tokens, sizes, rng);
    const before = members.length;
    tryAdd(child);
    if (members.length > before) members.shift();
  }
  return state.result();
}

/** Options of the REINFORCE strategy: the controller, its optimizer and the search loop. */
export interface ReinforceSearchOptions {
  /** Controller options (hidden size, layers, temperature, tanh constant). */
  policy?: PolicyOptions;
  /** Adam learning rate. Default 0.0006 (the paper's). */
  learningRate?: number;
  /** EMA baseline decay. Default 0.95. */
  baselineDecay?: number;
  /** Entropy bonus weight. Default 0. */
  entropyWeight?: number;
  /**
   * Normalise advantages by an EMA of their squares (see @nasrl/controller ReinforceOptions). Default false, as
   * in the cluster, which has no such setting (docs/design.md, "The REINFORCE step").
   */
  normalizeAdvantages?: boolean;
  /** Architectures sampled per controller step (m). Default 1. */
  architecturesPerStep?: number;
  /** Rewards are multiplied by this before REINFORCE (NAS-Bench-201 accuracies are percent: 0.01). Default 1. */
  rewardScale?: number;
  /** The scaled reward is raised to this power (the paper cubes CIFAR-10 accuracies: 3). Default 1. */
  rewardPower?: number;
  /**
   * The reward of an architecture the table lacks: 'worst', the worst reward seen in the run so far (0 before
   * any), or a number; the cluster's experiments apply the same rule (ExperimentConfig.refusedReward). Default 'worst'.
   */
  refusedReward?: RefusedRewardRule;
  /** Do not charge the budget again for an architecture already evaluated in the run. Default false. */
  reuseEvaluations?: boolean;
  /** Stop once the controller has proposed this many architectures (charged or not). Default 50 × budget in evaluations, or 20,000. */
  maxProposals?: number;
  /** With reuse: stop once this many proposals in a row were architectures already evaluated (the policy has converged). Default 200. */
  patience?: number;
  /** Told about each controller step, after its gradient is computed and before it is applied. Default: none. */
  onStep?: (step: ReinforceSearchStep) => void;
}

/** One controller step of reinforceSearch, as onStep sees it. */
export interface ReinforceSearchStep {
  /** The controller's parameters the step's architectures were sampled with (a copy). */
  readonly parameters: NamedTensor[];
  /** The step's architectures and the table's reward of each (null: the table lacks it). */
  readonly children: readonly { readonly tokens: readonly number[]; readonly reward: number | null }[];
  /** The rewards REINFORCE saw (stepRewards: shaped, the refused ones by the refusedReward rule). */
  readonly rewards: readonly number[];
  readonly baseline: number;
  readonly advantages: readonly number[];
  readonly gradients: readonly NamedTensor[];
}

/** The REINFORCE controller of the cluster, trained locally against the table. */
export function reinforceSearch(bench: TabularBenchmark, rng: Rng, options: ReinforceSearchOptions = {}): RunResult {
  const m = options.architecturesPerStep ?? 1;
  if (!Number.isInteger(m) || m < 1) throw new SearchConfigError(`architecturesPerStep: expected a positive integer, got ${m}`);
  const reuse = options.reuseEvaluations ?? false;
  const refusedRule = options.refusedReward ?? REFUSED_REWARD_DEFAULT;
  if (refusedRule !== 'worst' && !Number.isFinite(refusedRule)) throw new SearchConfigError(`refusedReward: expected 'worst' or a finite number, got ${refusedRule}`);
  // A table gives no costs: the cluster's shaping without a cost factor.
  const shaping: RewardShaping = { rewardScale: options.rewardScale ?? 1, rewardPower: options.rewardPower ?? 1, costReward: null, refusedReward: refusedRule };
  const maxProposals = options.maxProposals ?? (bench.budgetUnit === 'evaluations' ? 50 * bench.budget : 20000);
  const policy = new ControllerPolicy(bench.space, { ...options.policy, initSeed: rng.nextUint32() });
  try {
    const params = policy.parameters();
    const adam = new Adam({ learningRate: options.learningRate ?? 0.0006 });
    const state = new RunState(bench);
    let baseline = EMPTY_BASELINE;
    let worst: number | undefined;
    const patience = options.patience ?? DEFAULT_PATIENCE;
    while (!state.exhausted && state.proposals < maxProposals && state.knownInARow < patience) {
      const samples = policy.sample(m, rng);
      const results: (RewardInputs | null)[] = [];
      for (const s of samples) {
        const outcome = state.evaluate(s.tokens, reuse);
        if (outcome.kind === 'exhausted') break;
        // Architectures the table lacks (null) earn the refused reward: the controller learns to avoid them.
        results.push(outcome.kind === 'result' ? { reward: outcome.result.reward } : null);
      }
      if (results.length === 0) break;
      const rewards = stepRewards(shaping, results, worst);
      worst = worstOf(worst, rewards.filter((_, k) => results[k] !== null));
      const stepped = samples.slice(0, results.length);
      const step = reinforceStep(policy, stepped, rewards, baseline, {
        baselineDecay: options.baselineDecay ?? 0.95,
        entropyWeight: options.entropyWeight ?? 0,
        normalizeAdvantages: options.normalizeAdvantages ?? false,
      });
      baseline = step.nextBaseline;
      options.onStep?.({
        parameters: params.map((t) => ({ ...t, data: t.data.slice() })),
        children: stepped.map((s, k) => ({ tokens: s.tokens, reward: results[k]?.reward ?? null })),
        rewards, baseline: step.baseline, advantages: step.advantages, gradients: step.gradients,
      });
      adam.apply(params, step.gradients);
      policy.setParameters(params);
    }
    return state.result();
  } finally {
    policy.dispose();
  }
}

/** Proposals in a row that were already known before a run that reuses evaluations ends. */
const DEFAULT_PATIENCE = 200;

function reuseSettings(options: ReuseOptions): { reuse: boolean; patience: number } {
  const patience = options.patience ?? DEFAULT_PATIENCE;
  if (!Number.isInteger(patience) || patience < 1) throw new SearchConfigError(`patience: expected a positive integer, got ${patience}`);
  return { reuse: options.reuseEvaluations ?? false, patience };
}

function choiceSizes(bench: TabularBenchmark): number[] {
  return bench.space.decisions().map((d) => {
    if (d.kind !== 'categorical') throw new SearchConfigError(`tabular strategies need a space of categorical tokens; ${bench.space.name} has anchor points`);
    const type = bench.space.tokenTypes.find((t) => t.name === d.type);
    if (!type) throw new SearchConfigError(`space ${bench.space.name}: unknown token type ${d.type}`);
    return type.choices.length;
  });
}

function mutate(tokens: readonly number[], sizes: readonly number[], rng: Rng): number[] {
  const child = [...tokens];
  const mutable = sizes.map((n, i) => (n > 1 ? i : -1)).filter((i) => i >= 0);
  if (mutable.length === 0) return child;
  const i = mutable[rng.int(mutable.length)] as number;
  const n = sizes[i] as number;
  const current = child[i] as number;
  child[i] = (current + 1 + rng.int(n - 1)) % n; // any other choice, uniformly
  return child;
}
