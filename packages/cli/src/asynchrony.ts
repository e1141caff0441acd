import { advantagesFor, EMPTY_BASELINE, reinforceGradient, Rng, stepRewards, type BaselineState } from '@nasrl/controller';
import { experimentRuntime, forShards, hashSeed } from '@nasrl/cluster';
import { fromWire, ShardCore, StaleGradientError, toWire, type StalenessOptions } from '@nasrl/ps';
import type { ExperimentConfig } from '@nasrl/queue';
import type { Nb201Table, TabulatedResult } from '@nasrl/search';

/**
 * The cluster's asynchrony on a virtual clock: K replicas of m children, W workers, children that take their
 * NAS-Bench-201 time, and a parameter shard (ShardCore, the shards' own code) with the experiment's staleness
 * policy. Each replica pulls θ, samples m architectures with the controller's policy, and when the last of them
 * is done the step's rewards, shared baseline, advantages and gradient (at the parameters it sampled from)
 * are computed as the cluster's step processor computes them and pushed under the versions it sampled with.
 * Time only orders events: sampling and the gradient take no virtual time, so the staleness measured here is
 * what the children's times alone cause, without the cluster's own latencies.
 */
export interface AsynchronyOptions {
  /** An nb201 experiment (rewards shaped by its rewardScale/rewardPower, its learning rate and baseline decay). */
  readonly config: ExperimentConfig;
  readonly table: Nb201Table;
  /** K: controller replicas. */
  readonly replicas: number;
  /** W: workers; default K · m (the paper's 800 for 100 × 8). */
  readonly workers?: number;
  /** The shards' staleness policy (bound, rule); default none. */
  readonly staleness?: StalenessOptions;
  /** Gradients a shard accumulates before it applies their mean (SPEC section 5's recurrent search used 10). Default 1. */
  readonly accumulate?: number;
  /** Seed of the sampling (each replica's step n samples with a generator of (seed, replica, n)). */
  readonly seed: number;
}

/** One evaluated child in the order the children finished. */
export interface AsynchronyChild {
  readonly validation: number;
  readonly test: number;
  readonly finishedAt: number;
}

/** What one virtual run did. */
export interface AsynchronyRun {
  readonly evaluated: number;
  /** The NAS-Bench-201 protocol's figure: the test accuracy of the child with the best validation accuracy. */
  readonly bestValidation: number;
  readonly bestTest: number;
  /** Mean validation accuracy of the last tenth of the children (by finishing time). */
  readonly lastTenthMean: number;
  /** Staleness (versions behind) of every applied push, in the order they were applied. */
  readonly staleness: number[];
  /** Pushes the staleness bound refused. */
  readonly refused: number;
  /** Virtual seconds from the first sample to the last child. */
  readonly virtualSeconds: number;
  /** Busy worker time / (workers × virtual seconds). */
  readonly utilisation: number;
  readonly children: AsynchronyChild[];
}

interface Step {
  readonly replica: number;
  readonly stepNo: number;
  readonly tokens: number[][];
  readonly parameters: ReturnType<typeof fromWire>[];
  readonly version: number;
  readonly results: ({ reward: number; test: number } | null)[];
  left: number;
}

/** Runs one search with the experiment's budget; see AsynchronyOptions. */
export function runAsynchrony(o: AsynchronyOptions): AsynchronyRun {
  const { config, table } = o;
  const m = config.childrenPerStep;
  const workers = o.workers ?? o.replicas * m;
  const { policy } = experimentRuntime(config);
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1, staleness: o.staleness ?? {}, accumulate: o.accumulate ?? 1 });
  shard.init({ experiment: config.id, tensors: forShards(policy.parameters()).map(toWire), adam: { learningRate: config.learningRate } });
  let baseline: BaselineState = EMPTY_BASELINE;
  let sampled = 0;
  let now = 0;
  let busy = 0;
  let idle = workers;
  const waiting: { step: Step; index: number }[] = [];
  // Running children by finishing time (a binary heap would do for millions; a sorted insert is plenty here).
  const running: { at: number; started: number; step: Step; index: number; row: TabulatedResult }[] = [];
  const children: AsynchronyChild[] = [];
  const staleness: number[] = [];
  let refused = 0;
  const stepsOf = new Map<number, number>();

  const startChildren = (): void => {
    while (idle > 0 && waiting.length > 0) {
      const job = waiting.shift() as { step: Step; index: number };
      const tokens = job.step.tokens[job.index] as number[];
      const row = table.evaluate(tokens);
      if (!row) throw new Error(`asynchrony: the table has no row for tokens ${tokens.join(',')}`);
      const at = now + row.cost;
      let i = running.length;
      while (i > 0 && (running[i - 1] as { at: number }).at > at) i--;
      running.splice(i, 0, { at, started: now, row, ...job });
      idle--;
    }
  };
  const sample = (replica: number): boolean => {
    const granted = Math.min(m, config.budgetArchs - sampled);
    if (granted <= 0) return false;
    sampled += granted;
    const stepNo = (stepsOf.get(replica) ?? 0) + 1;
    stepsOf.set(replica, stepNo);
    const pulled = shard.pull(config.id);
    const parameters = pulled.tensors.map(fromWire);
    policy.setParameters(parameters);
    const rng = new Rng(hashSeed(`${o.seed}:${replica}:${stepNo}`));
    const tokens = policy.sample(granted, rng).map((s) => [...s.tokens]);
    const step: Step = { replica, stepNo, tokens, parameters, version: pulled.version, results: tokens.map(() => null), left: granted };
    for (let index = 0; index < granted; index++) waiting.push({ step, index });
    return true;
  };
  const finish = (step: Step): void => {
    const rewards = stepRewards(config, step.results.map((r) => ({ reward: (r as { reward: number }).reward })));
    const { advantages, after } = advantagesFor(rewards, baseline, { baselineDecay: config.baselineDecay });
    baseline = after;
    policy.setParameters(step.parameters);
    const { gradients } = reinforceGradient(policy, step.tokens.map((tokens) => ({ tokens })), advantages, undefined, config.entropyWeight);
    try {
      const push = shard.push({ experiment: config.id, replica: String(step.replica), stepId: `r${step.replica}-s${step.stepNo}`, baseVersion: step.version, gradients: forShards(gradients).map(toWire) });
      staleness.push(push.staleness);
    } catch (err) {
      if (!(err instanceof StaleGradientError)) throw err;
      refused++;
    }
  };

  for (let r = 0; r < o.replicas; r++) for (let lane = 0; lane < config.stepsInFlight; lane++) sample(r);
  startChildren();
  while (running.length > 0) {
    const done = running.shift() as (typeof running)[number];
    now = done.at;
    busy += done.at - done.started;
    idle++;
    const result = { reward: done.row.reward, test: done.row.test };
    done.step.results[done.index] = result;
    children.push({ validation: result.reward, test: result.test, finishedAt: now });
    if (--done.step.left === 0) {
      finish(done.step);
      sample(done.step.replica);
    }
    startChildren();
  }
  shard.close();
  let best = children[0] as AsynchronyChild;
  for (const c of children) if (c.validation > best.validation) best = c;
  const tail = children.slice(Math.floor(children.length * 0.9));
  return {
    evaluated: children.length,
    bestValidation: best.validation,
    bestTest: best.test,
    lastTenthMean: tail.reduce((a, c) => a + c.validation, 0) / Math.max(1, tail.length),
    staleness,
    refused,
    virtualSeconds: now,
    utilisation: now > 0 ? busy / (workers * now) : NaN,
    children,
  };
}
