import * as path from 'node:path';
import { runProtocol, summarize, STRATEGY_NAMES, type BenchmarkSpec, type StrategySpec, type StrategySummary } from '@nasrl/search';
import { intFlag, numberFlag, parseArgs, ProgressBar, stringFlag, switchFlag, UsageError, type ParsedArgs } from '../args';
import { DEFAULT_NB201_TABLE, tunedReinforce } from '../defaults';

const VALUED = ['table', 'file', 'runs', 'strategies', 'seed', 'budget-evals', 'budget-seconds', 'threads', 'lr', 'baseline-decay', 'entropy', 'children', 'temperature', 'tanh-constant', 'hidden', 'reward-power', 'normalize-advantages', 'reuse'];
const SWITCHES = ['json', 'help'];

export const BENCH_SEARCH_USAGE = `nasrl bench nb201 [--table PATH] [--runs N] [--strategies reinforce,random,evolution] [--seed S] [--json]
nasrl bench table --file PATH --budget-evals N [--runs N] [--strategies ...] [--seed S] [--json]

Runs the tabular protocol: each run searches until its budget is spent, and the architecture with the best
reward is reported by its test figure; prints mean ± std over the runs for each strategy.
  --table PATH        NAS-Bench-201 CSV (default ${DEFAULT_NB201_TABLE})
  --budget-seconds S  simulated budget of one nb201 run (default 12000)
  --threads N         worker threads (default: the machine's cores)
REINFORCE options (defaults are the tuned ones in BENCHMARKS.md):
  --lr X --baseline-decay X --entropy X --children M --temperature X --tanh-constant X --hidden N
  --reward-power X --normalize-advantages true|false --reuse true|false`;

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
  const json = switchFlag(args, 'json');
  const summaries: Record<string, StrategySummary & { seconds: number }> = {};
  for (const name of names) {
    const strategy = strategySpec(name, args, kind);
    const bar = new ProgressBar(name.padEnd(9), runs);
    const started = Date.now();
    const results = await runProtocol({ benchmark, strategy, runs, seed, ...(threadsFlag === undefined ? {} : { threads: threadsFlag }), onProgress: (done) => bar.update(done) });
    bar.done();
    const summary = { ...summarize(results), seconds: (Date.now() - started) / 1000 };
    summaries[name] = summary;
    console.log(`${name.padEnd(9)} ${summary.mean.toFixed(2)} ± ${summary.std.toFixed(2)}  (${summary.runs} runs, ${summary.evaluations.toFixed(1)} evaluations per run, ${summary.seconds.toFixed(1)} s)`);
  }
  if (json) console.log(JSON.stringify(summaries));
  return 0;
}

function strategySpec(name: string, args: ParsedArgs, kind: 'nb201' | 'table'): StrategySpec {
  if (name === 'random') return { name };
  if (name === 'evolution') return { name, options: { population: 10, tournament: 3 } };
  const tuned = tunedReinforce(kind);
  return {
    name: 'reinforce',
    options: {
      ...tuned,
      learningRate: numberFlag(args, 'lr', tuned.learningRate, 0),
      baselineDecay: numberFlag(args, 'baseline-decay', tuned.baselineDecay, 0, 0.999999),
      entropyWeight: numberFlag(args, 'entropy', tuned.entropyWeight, 0),
      architecturesPerStep: intFlag(args, 'children', tuned.architecturesPerStep, 1, 1024),
      reuseEvaluations: boolFlag(args, 'reuse', tuned.reuseEvaluations),
      normalizeAdvantages: boolFlag(args, 'normalize-advantages', tuned.normalizeAdvantages),
      rewardPower: numberFlag(args, 'reward-power', tuned.rewardPower, 0.01, 100),
      policy: {
        ...tuned.policy,
        temperature: numberFlag(args, 'temperature', tuned.policy.temperature, 1e-6),
        tanhConstant: numberFlag(args, 'tanh-constant', tuned.policy.tanhConstant, 0),
        hiddenSize: intFlag(args, 'hidden', tuned.policy.hiddenSize, 1, 4096),
      },
    },
  };
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
