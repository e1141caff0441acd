import { Adam, advantagesFor, EMPTY_BASELINE, reinforceGradient, Rng, stepRewards, type BaselineState, type NamedTensor } from '@nasrl/controller';
import { depthFor, experimentRuntime, hashSeed, layersArg } from '@nasrl/cluster';
import { TrainingPool, type PoolResult } from '@nasrl/evaluate';
import { parseExperimentConfig, type ExperimentConfig } from '@nasrl/queue';
import { ConvSpace } from '@nasrl/spaces';
import { selectBackend } from '@nasrl/tf';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { convPreset, CONV_PRESET_NAMES } from '../presets';
import { mean, standardError } from '../stats';

const STRATEGIES = ['reinforce', 'random'] as const;
type Strategy = (typeof STRATEGIES)[number];
/** Known proposals in a row that end a run with reuse (as in `nasrl bench nb201`). */
const PATIENCE = 200;

/** What `nasrl bench search --help` prints. */
export const BENCH_REAL_SEARCH_USAGE = `usage: nasrl bench search [--preset small|paper] [--budget-archs N] [--seeds S] [--children M] [--threads T]
                          [--strategies reinforce,random] [--epochs E] [--subset N] [--validation-subset N]
                          [--no-cost-reward] [--json]

REINFORCE against random search on real child training at an equal budget in architectures: S runs (seeds)
per strategy, all sharing one pool of training threads. Each run's best-validation architecture is trained
once more with the test split to give its test accuracy. Prints mean ± standard error over seeds of both,
and REINFORCE − random with its standard error; a difference under two standard errors is "no difference shown".
With the experiment's reuseEvaluations (the presets' default), an architecture already evaluated in the run
costs no budget and its result is used again, for both strategies; a run ends early after ${PATIENCE} known
proposals in a row.
  --preset NAME         conv preset (default small; ${CONV_PRESET_NAMES.join(', ')})
  --budget-archs N      paid evaluations per run (default 40)
  --seeds S             runs per strategy, seeds 1..S (default 5)
  --children M          architectures per controller step, and per batch of random search (default: the preset's)
  --threads T           training threads (default 2)
  --strategies LIST     which strategies (default reinforce,random)
  --epochs E            child training epochs (default: the preset's)
  --subset N            training images (default: the preset's)
  --validation-subset N validation images (default: the preset's)
  --no-cost-reward      REINFORCE's reward without the preset's cost factor (accuracy only), to measure what
                        the factor does to accuracy and to time per architecture
  --json                also print one JSON line, last: settings, every run, the summaries and the difference
  --help                print this and exit`;

/** One architecture a run paid to evaluate. */
interface Evaluated {
  readonly key: string;
  readonly tokens: readonly number[];
  readonly layers: number;
  readonly result: PoolResult;
}

/** What one run (a strategy and a seed) found. */
export interface RunRecord {
  readonly strategy: Strategy;
  readonly seed: number;
  /** Best validation accuracy of the run's evaluations. */
  readonly bestAccuracy: number;
  /** Test accuracy of that architecture, trained once more with the same settings and training seed. */
  readonly testAccuracy: number;
  /** Validation accuracy of that retraining (equal to bestAccuracy when training is reproducible). */
  readonly retrainAccuracy: number;
  readonly bestArch: string;
  /** Evaluations paid from the budget. */
  readonly evaluations: number;
  readonly distinct: number;
  /** Architectures proposed, known ones included. */
  readonly proposals: number;
  readonly meanChildSeconds: number;
  /** Mean validation accuracy of the first and of the last quarter of the paid evaluations, in order. */
  readonly firstQuarterAccuracy: number;
  readonly lastQuarterAccuracy: number;
  readonly seconds: number;
}

/** Mean and standard error over seeds. */
interface Estimate {
  readonly mean: number;
  readonly se: number;
}

/** One strategy over its seeds. */
interface Summary {
  readonly validation: Estimate;
  readonly test: Estimate;
  /** Mean validation accuracy of the last quarter of each run's evaluations: what the policy samples by then. */
  readonly lastQuarterAccuracy: Estimate;
  readonly childSeconds: Estimate;
  readonly runs: RunRecord[];
}

/** REINFORCE − random and whether it exceeds two standard errors. */
interface Difference {
  readonly value: number;
  readonly se: number;
  readonly shown: boolean;
}

interface RunContext {
  readonly base: Readonly<Record<string, unknown>>;
  readonly pool: TrainingPool;
  readonly budget: number;
  readonly progress: (line: string) => void;
}

/**
 * `nasrl bench search`: REINFORCE (as the cluster's replicas and step processor do it, in one process) against
 * random search, on real child training at an equal budget, S seeds each.
 */
export async function benchRealSearchCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['preset', 'budget-archs', 'seeds', 'children', 'threads', 'strategies', 'epochs', 'subset', 'validation-subset'], ['json', 'help', 'no-cost-reward']);
  if (switchFlag(args, 'help')) {
    console.log(BENCH_REAL_SEARCH_USAGE);
    return 0;
  }
  if (args.positional.length > 0) throw new UsageError(`nasrl bench search takes no arguments, got ${JSON.stringify(args.positional[0])}`);
  const presetName = stringFlag(args, 'preset', 'small');
  if (!(CONV_PRESET_NAMES as readonly string[]).includes(presetName)) throw new UsageError(`--preset: expected one of ${CONV_PRESET_NAMES.join(', ')}, got ${JSON.stringify(presetName)}`);
  const preset = convPreset(presetName).experiment;
  const budget = intFlag(args, 'budget-archs', 40, 1);
  const seeds = intFlag(args, 'seeds', 5, 1, 1000);
  const threads = intFlag(args, 'threads', 2, 1, 256);
  const strategies = strategiesFlag(stringFlag(args, 'strategies', STRATEGIES.join(',')));
  const training: Record<string, unknown> = { ...(preset.training as Record<string, unknown>) };
  if (args.flags.has('epochs')) training.epochs = intFlag(args, 'epochs', 1, 1, 10_000);
  if (args.flags.has('subset')) training.subset = intFlag(args, 'subset', 1, 1);
  if (args.flags.has('validation-subset')) training.validationSubset = intFlag(args, 'validation-subset', 1, 1);
  const base: Record<string, unknown> = { space: 'conv', ...preset, budgetArchs: budget, training };
  if (args.flags.has('children')) base.childrenPerStep = intFlag(args, 'children', 1, 1, 1024);
  if (switchFlag(args, 'no-cost-reward')) base.costReward = null;
  // Parsed once up front so that a bad combination is reported before any thread starts.
  const probe = configFor(base, 1);
  const json = switchFlag(args, 'json');

  console.log(`bench search: preset ${presetName}, ${strategies.join(' vs ')}, ${seeds} seeds, ${budget} architectures per run, m = ${probe.childrenPerStep}, ` +
    `${probe.training.epochs} epochs on ${probe.training.subset ?? 'all'} images, ${threads} threads, reuse ${probe.reuseEvaluations ? 'on' : 'off'}, ` +
    `cost factor ${probe.costReward ? `(${probe.costReward.metric} / ${probe.costReward.target})^${probe.costReward.weight}` : 'off'}`);
  const started = Date.now();
  // The controllers are small and live on this thread; children train on the pool's threads.
  await selectBackend('cpu', { log: () => undefined });
  const pool = new TrainingPool({ threads });
  let runs: RunRecord[];
  try {
    const ctx: RunContext = { base, pool, budget, progress: (line) => process.stderr.write(`${line}\n`) };
    const jobs: Promise<RunRecord>[] = [];
    for (let seed = 1; seed <= seeds; seed++) for (const strategy of strategies) jobs.push(runSearch(ctx, strategy, seed));
    runs = await Promise.all(jobs);
  } finally {
    await pool.close();
  }

  for (const r of runs) {
    console.log(`${r.strategy.padEnd(9)} seed ${r.seed}: best validation ${pct(r.bestAccuracy)} (test ${pct(r.testAccuracy)}) ${r.bestArch}; ` +
      `${r.evaluations} evaluations, ${r.distinct} distinct, ${r.proposals} proposed; ${r.meanChildSeconds.toFixed(1)} s per child; ` +
      `mean accuracy first quarter ${pct(r.firstQuarterAccuracy)}, last quarter ${pct(r.lastQuarterAccuracy)}`);
  }
  const summaries: Record<string, Summary> = {};
  for (const s of strategies) {
    const mine = runs.filter((r) => r.strategy === s);
    summaries[s] = {
      validation: estimate(mine.map((r) => r.bestAccuracy)), test: estimate(mine.map((r) => r.testAccuracy)),
      lastQuarterAccuracy: estimate(mine.map((r) => r.lastQuarterAccuracy)), childSeconds: estimate(mine.map((r) => r.meanChildSeconds)), runs: mine,
    };
  }
  console.log('');
  console.log(`${'strategy'.padEnd(12)}${'best validation'.padEnd(20)}${'test of that arch.'.padEnd(20)}${'mean, last quarter'.padEnd(20)}seconds per child`);
  for (const s of strategies) {
    const v = summaries[s] as Summary;
    console.log(`${s.padEnd(12)}${formatEstimate(v.validation).padEnd(20)}${formatEstimate(v.test).padEnd(20)}${formatEstimate(v.lastQuarterAccuracy).padEnd(20)}` +
      `${v.childSeconds.mean.toFixed(1)} ± ${Number.isFinite(v.childSeconds.se) ? v.childSeconds.se.toFixed(1) : 'n/a'}`);
  }
  let difference: { validation: Difference; test: Difference } | null = null;
  const rl = summaries.reinforce;
  const rs = summaries.random;
  if (rl && rs) {
    difference = { validation: differenceOf(rl.validation, rs.validation), test: differenceOf(rl.test, rs.test) };
    console.log(`${'difference'.padEnd(12)}${formatDifference(difference.validation).padEnd(20)}${formatDifference(difference.test)}   (REINFORCE − random, ± its standard error)`);
    console.log(`validation: ${verdict(difference.validation)}; test: ${verdict(difference.test)}`);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`${runs.length} runs in ${seconds.toFixed(0)} s`);
  if (json) {
    console.log(JSON.stringify({
      preset: presetName, budgetArchs: budget, seeds, childrenPerStep: probe.childrenPerStep, threads, reuse: probe.reuseEvaluations,
      epochs: probe.training.epochs, subset: probe.training.subset, costReward: probe.costReward, strategies: summaries, difference, seconds,
    }));
  }
  return 0;
}

// Seed s gets its own experiment id, hence its own controller initialisation and sampling stream.
function configFor(base: Readonly<Record<string, unknown>>, seed: number): ExperimentConfig {
  return parseExperimentConfig({ ...base, id: `bench-s${seed}` });
}

/**
 * One run. REINFORCE samples m architectures per step from its policy at the schedule's depth, evaluates those
 * not yet known, and takes the cluster's step: shaped (cost-aware) rewards, EMA baseline, policy gradient,
 * Adam with the parameter servers' settings. Random search draws uniform tokens in batches of m. Both count
 * every proposal in the depth schedule and never sample more than the budget left.
 */
async function runSearch(ctx: RunContext, strategy: Strategy, seed: number): Promise<RunRecord> {
  const started = Date.now();
  const config = configFor(ctx.base, seed);
  const { space, policy } = experimentRuntime(config);
  if (!(space instanceof ConvSpace)) throw new UsageError('nasrl bench search needs the conv space');
  const label = `${strategy} seed ${seed}`;
  // As a replica samples step n from (seed, replica, n); random search draws from one stream of its own.
  const sampleSeed = hashSeed(`sample:${config.id}`);
  const uniform = new Rng(hashSeed(`random:${config.id}`));
  const known = new Map<string, Promise<PoolResult>>();
  const paid: Evaluated[] = [];
  let proposals = 0;
  let knownInARow = 0;
  // REINFORCE state: the parameters (copies the optimizer updates in place), Adam's moments, the baseline.
  const params: NamedTensor[] = policy.parameters().map((t) => ({ name: t.name, shape: [...t.shape], data: new Float32Array(t.data) }));
  const adam = new Adam({ learningRate: config.learningRate });
  let baseline: BaselineState = EMPTY_BASELINE;

  for (let stepNo = 0; paid.length < ctx.budget && knownInARow < PATIENCE; stepNo++) {
    const layers = depthFor(space, proposals);
    // Each proposal costs at most one evaluation, so a step never overspends the budget.
    const count = Math.min(config.childrenPerStep, ctx.budget - paid.length);
    const tokens: (readonly number[])[] =
      strategy === 'reinforce'
        ? policy.sample(count, new Rng(hashSeed(`${sampleSeed}:0:${stepNo}`)), layersArg(space, layers)).map((s) => s.tokens)
        : Array.from({ length: count }, () => space.tokenSizes(layers).map((n) => uniform.int(n)));
    const pending: Promise<PoolResult>[] = [];
    const fresh: { key: string; tokens: readonly number[]; result: Promise<PoolResult> }[] = [];
    for (const t of tokens) {
      const arch = space.decode(t, layers);
      const key = space.key(arch);
      proposals++;
      const cached = config.reuseEvaluations ? known.get(key) : undefined;
      if (cached) {
        knownInARow++;
        // REINFORCE learns from the known result; random search has simply drawn again at no cost.
        if (strategy === 'reinforce') pending.push(cached);
        continue;
      }
      knownInARow = 0;
      const result = ctx.pool.train({ config, child: { tokens: t, layers, arch: space.toJSON(arch) } });
      known.set(key, result);
      pending.push(result);
      fresh.push({ key, tokens: t, result });
    }
    const results = await Promise.all(pending);
    for (const f of fresh) paid.push({ key: f.key, tokens: f.tokens, layers, result: await f.result });
    if (strategy === 'reinforce') {
      // The cluster's step: its shaping, advantages and gradient (the baseline kept here instead of in Redis).
      const rewards = stepRewards(config, results);
      const step = advantagesFor(rewards, baseline, { baselineDecay: config.baselineDecay });
      baseline = step.after;
      const { gradients } = reinforceGradient(policy, tokens.map((t) => ({ tokens: t })), step.advantages, layersArg(space, layers), config.entropyWeight);
      adam.apply(params, gradients);
      policy.setParameters(params);
    }
    if (fresh.length > 0) ctx.progress(`${label}: ${paid.length}/${ctx.budget} evaluated, best ${pct(bestOf(paid)?.result.accuracy ?? NaN)}`);
  }

  const best = bestOf(paid);
  if (!best) throw new Error(`${label}: no architecture was evaluated`);
  const retrained = await ctx.pool.train({ config, child: { tokens: best.tokens, layers: best.layers, arch: space.toJSON(space.decode(best.tokens, best.layers)) }, test: true });
  if (retrained.testAccuracy === undefined) throw new Error(`${label}: the retraining of ${best.key} reported no test accuracy`);
  const quarter = Math.max(1, Math.floor(paid.length / 4));
  const accuracies = paid.map((e) => e.result.accuracy);
  const record: RunRecord = {
    strategy, seed,
    bestAccuracy: best.result.accuracy,
    testAccuracy: retrained.testAccuracy,
    retrainAccuracy: retrained.accuracy,
    bestArch: best.key,
    evaluations: paid.length,
    distinct: new Set(paid.map((e) => e.key)).size,
    proposals,
    meanChildSeconds: mean(paid.map((e) => e.result.seconds)),
    firstQuarterAccuracy: mean(accuracies.slice(0, quarter)),
    lastQuarterAccuracy: mean(accuracies.slice(-quarter)),
    seconds: (Date.now() - started) / 1000,
  };
  ctx.progress(`${label}: done, best ${pct(record.bestAccuracy)}, test ${pct(record.testAccuracy)}`);
  return record;
}

// The first of the highest validation accuracies.
function bestOf(paid: readonly Evaluated[]): Evaluated | undefined {
  let best: Evaluated | undefined;
  for (const e of paid) if (!best || e.result.accuracy > best.result.accuracy) best = e;
  return best;
}

function strategiesFlag(value: string): Strategy[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--strategies: expected reinforce, random or both');
  for (const n of names) if (!(STRATEGIES as readonly string[]).includes(n)) throw new UsageError(`--strategies: unknown strategy "${n}" (known: ${STRATEGIES.join(', ')})`);
  return [...new Set(names)] as Strategy[];
}

/** Mean and standard error of the mean (NaN for one value). */
function estimate(xs: readonly number[]): Estimate {
  return { mean: mean(xs), se: standardError(xs) };
}

/** a − b with the standard error of a difference of independent means; shown when it exceeds two of them. */
function differenceOf(a: Estimate, b: Estimate): Difference {
  const value = a.mean - b.mean;
  const se = Math.sqrt(a.se ** 2 + b.se ** 2);
  return { value, se, shown: Number.isFinite(se) && Math.abs(value) >= 2 * se };
}

function verdict(d: Difference): string {
  if (!d.shown) return Number.isFinite(d.se) ? 'no difference shown' : 'no difference shown (one seed: no standard error)';
  return d.value > 0 ? 'REINFORCE better' : 'random search better';
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a';
}

function formatEstimate(e: Estimate): string {
  return `${pct(e.mean)} ± ${Number.isFinite(e.se) ? (100 * e.se).toFixed(2) : 'n/a'}`;
}

function formatDifference(d: Difference): string {
  const sign = d.value >= 0 ? '+' : '−';
  return `${sign}${(100 * Math.abs(d.value)).toFixed(2)} ± ${Number.isFinite(d.se) ? (100 * d.se).toFixed(2) : 'n/a'}`;
}
