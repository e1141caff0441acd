import * as path from 'node:path';
import { runProtocol, summarize, STRATEGY_NAMES, type BenchmarkSpec, type StrategySpec, type StrategySummary } from '@nasrl/search';
import { intFlag, numberFlag, parseArgs, ProgressBar, refusedRewardFlag, stringFlag, switchFlag, UsageError, type ParsedArgs } from '../args';
import { DEFAULT_NB201_TABLE, DEFAULT_REUSE, tunedReinforce } from '../defaults';

const VALUED = ['table', 'file', 'runs', 'strategies', 'seed', 'budget-evals', 'budget-seconds', 'threads', 'lr', 'baseline-decay', 'entropy', 'children', 'temperature', 'tanh-constant', 'hidden', 'reward-power', 'normalize-advantages', 'reuse', 'refused-reward'];
const SWITCHES = ['json', 'help'];
/** Known proposals in a row that end a run with reuse (the strategies' default). */
const PATIENCE = 200;

export const BENCH_SEARCH_USAGE = `nasrl bench nb201 [--table PATH] [--runs N] [--strategies reinforce,random,evolution] [--reuse LIST] [--seed S] [--json]
nasrl bench table --file PATH --budget-evals N [--runs N] [--strategies ...] [--reuse LIST] [--seed S] [--json]

Runs the tabular protocol: each run searches until its budget is spent, and the architecture with the best
reward is reported by its test figure; prints mean ± std over the runs for each strategy.
  --table PATH        NAS-Bench-201 CSV (default ${DEFAULT_NB201_TABLE})
  --budget-seconds S  simulated budget of one nb201 run (default 12000)
  --file PATH         table space file (bench table)
  --budget-evals N    budget of one table run, in evaluations (bench table)
  --runs N            independent runs per strategy (default 500); --seed S: their base seed (default 1)
  --threads N         worker threads (default: the machine's cores)
  --reuse LIST        the strategies that reuse evaluations: an architecture already evaluated in the run (on
                      nb201 also an isomorphic copy, by the table's unique column) costs no budget and its known
                      reward is used; such a run ends once ${PATIENCE} proposals in a row were known. Names, all or
                      none (default ${DEFAULT_REUSE.join(',')}: random search and evolution pay for every evaluation, as
                      published). true|false is the older form that sets REINFORCE alone.
  --json              also print one JSON line: per strategy mean, std, runs, evaluations, distinct and
                      proposals per run, reuse, seconds
  --help              print this and exit
REINFORCE options (defaults are the tuned ones in BENCHMARKS.md):
  --lr X --baseline-decay X --entropy X --children M --temperature X --tanh-constant X --hidden N
  --reward-power X --normalize-advantages true|false
  --refused-reward worst|X  reward of an architecture the table lacks: the worst seen so far (default) or X`;

/** `nasrl bench nb201|table`: the tabular protocol for the chosen strategies. */
export async function benchSearchCommand(kind: 'nb201' | 'table', argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, VALUED, SWITCHES);
  if (switchFlag(args, 'help')) {
    console.log(BENCH_SEARCH_USAGE);
    return 0;
  }
  const benchmark: BenchmarkSpec =
    kind === 'nb201'
      ? { kind, file: path.resolve(stringFlag(args, 'table', DEFAULT_NB201_TABLE)), budgetSeconds: numberFlag(args, 'budget-seconds', 12000, 1) }
      : { kind, file: path.resolve(requireFlag(args, 'file')), budgetEvaluations: intFlag(args, 'budget-evals', 0, 1) || missing('budget-evals') };
  const runs = intFlag(args, 'runs', 500, 1);
  const seed = intFlag(args, 'seed', 1, 0, 2 ** 32 - 1);
  const threadsFlag = args.flags.has('threads') ? intFlag(args, 'threads', 0, 0, 64) : undefined;
  const names = stringFlag(args, 'strategies', STRATEGY_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(STRATEGY_NAMES as readonly string[]).includes(n)) throw new UsageError(`--strategies: unknown strategy "${n}" (known: ${STRATEGY_NAMES.join(', ')})`);
  const reuse = reuseFlag(args);
  const json = switchFlag(args, 'json');
  const summaries: Record<string, StrategySummary & { reuse: boolean; seconds: number }> = {};
  for (const name of names) {
    const strategy = strategySpec(name, args, kind, reuse.has(name));
    const bar = new ProgressBar(name.padEnd(9), runs);
    const started = Date.now();
    const results = await runProtocol({ benchmark, strategy, runs, seed, ...(threadsFlag === undefined ? {} : { threads: threadsFlag }), onProgress: (done) => bar.update(done) });
    bar.done();
    const summary = { ...summarize(results), reuse: reuse.has(name), seconds: (Date.now() - started) / 1000 };
    summaries[name] = summary;
    const protocol = summary.reuse ? 'reuses known architectures' : 'pays for every evaluation';
    const perRun = `${summary.evaluations.toFixed(1)} evaluations per run (${summary.distinct.toFixed(1)} distinct, ${summary.proposals.toFixed(1)} proposed)`;
    console.log(`${name.padEnd(9)} ${summary.mean.toFixed(2)} ± ${summary.std.toFixed(2)}  (${summary.runs} runs, ${perRun}, ${protocol}, ${summary.seconds.toFixed(1)} s)`);
  }
  if (json) console.log(JSON.stringify(summaries));
  return 0;
}

function strategySpec(name: string, args: ParsedArgs, kind: 'nb201' | 'table', reuseEvaluations: boolean): StrategySpec {
  if (name === 'random') return { name, options: { reuseEvaluations, patience: PATIENCE } };
  if (name === 'evolution') return { name, options: { population: 10, tournament: 3, reuseEvaluations, patience: PATIENCE } };
  const tuned = tunedReinforce(kind);
  return {
    name: 'reinforce',
    options: {
      ...tuned,
      learningRate: numberFlag(args, 'lr', tuned.learningRate, 0),
      baselineDecay: numberFlag(args, 'baseline-decay', tuned.baselineDecay, 0, 0.999999),
      entropyWeight: numberFlag(args, 'entropy', tuned.entropyWeight, 0),
      architecturesPerStep: intFlag(args, 'children', tuned.architecturesPerStep, 1, 1024),
      reuseEvaluations,
      patience: PATIENCE,
      normalizeAdvantages: boolFlag(args, 'normalize-advantages', tuned.normalizeAdvantages),
      rewardPower: numberFlag(args, 'reward-power', tuned.rewardPower, 0.01, 100),
      refusedReward: refusedRewardFlag(args),
      policy: {
        ...tuned.policy,
        temperature: numberFlag(args, 'temperature', tuned.policy.temperature, 1e-6),
        tanhConstant: numberFlag(args, 'tanh-constant', tuned.policy.tanhConstant, 0),
        hiddenSize: intFlag(args, 'hidden', tuned.policy.hiddenSize, 1, 4096),
      },
    },
  };
}

/** The strategies named by --reuse: a list, all or none; true|false, the older form, sets REINFORCE alone. */
function reuseFlag(args: ParsedArgs): Set<string> {
  const v = stringFlag(args, 'reuse');
  if (v === undefined || v === 'true') return new Set(DEFAULT_REUSE);
  if (v === 'false' || v === 'none') return new Set();
  if (v === 'all') return new Set(STRATEGY_NAMES);
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--reuse: expected strategy names, all or none, got ""');
  for (const n of names) if (!(STRATEGY_NAMES as readonly string[]).includes(n)) throw new UsageError(`--reuse: unknown strategy "${n}" (known: ${STRATEGY_NAMES.join(', ')}; or all, none)`);
  return new Set(names);
}

function boolFlag(args: ParsedArgs, name: string, fallback: boolean): boolean {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  if (v !== 'true' && v !== 'false') throw new UsageError(`--${name}: expected true or false, got ${JSON.stringify(v)}`);
  return v === 'true';
}

function requireFlag(args: ParsedArgs, name: string): string {
  return stringFlag(args, name) ?? missing(name);
}

function missing(name: string): never {
  throw new UsageError(`--${name} is required`);
}
