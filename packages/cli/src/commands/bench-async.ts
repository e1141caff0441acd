import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { STALENESS_RULES, type StalenessRule } from '@nasrl/ps';
import { parseExperimentConfig } from '@nasrl/queue';
import { Nb201Table } from '@nasrl/search';
import { runAsynchrony } from '../asynchrony';
import { intFlag, numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { DEFAULT_NB201_TABLE, tunedReinforce } from '../defaults';
import { distribution } from '../simulation';
import { mean, standardError } from '../stats';

export const BENCH_ASYNC_USAGE = `nasrl bench async [--replicas 1,10,100] [--children M] [--workers W] [--budget-archs N] [--seeds N]
                  [--steps-in-flight N] [--staleness-bound N|unbounded] [--staleness-rule none|inverse|inverse-sqrt]
                  [--accumulate N] [--lr X] [--table PATH] [--out FILE] [--json]

What asynchronous replicas do to REINFORCE on NAS-Bench-201: for each K, several seeds of a search of the
same budget, on a virtual clock (children take their NAS-Bench-201 time, 12/200 of the 200-epoch seconds;
sampling and gradients take none), with the controller, reward shaping, baseline and step gradient of the
cluster and the shards' own staleness policy. Reports per K the NAS-Bench-201 protocol's figure (test accuracy
of the best child by validation), the mean validation accuracy of the last tenth of the children, the
staleness of the applied gradients and the workers' utilisation, each with mean ± standard error over seeds.
  --replicas LIST      values of K (default 1,10,100)
  --children M         m, architectures per step (default 8); --workers W: default K·m for each K
  --budget-archs N     architectures per search (default 12800, the paper's)
  --seeds N            seeds per K (default 3)
  --steps-in-flight N  steps each replica keeps in flight (default 1)
  --staleness-bound N, --staleness-rule R, --accumulate N
                       the shards' staleness policy (default unbounded, none, 1)
  --lr X               the controller's learning rate (default the tuned NAS-Bench-201 one, ${tunedReinforce('nb201').learningRate})
  --out FILE           also write every run's figures as JSON`;

const VALUED = ['replicas', 'children', 'workers', 'budget-archs', 'seeds', 'steps-in-flight', 'staleness-bound', 'staleness-rule', 'accumulate', 'lr', 'table', 'out'];

/** One K's figures over its seeds. */
export interface AsynchronyRow {
  readonly replicas: number;
  readonly workers: number;
  readonly seeds: number;
  readonly bestTest: { mean: number; se: number };
  readonly lastTenthMean: { mean: number; se: number };
  readonly staleness: ReturnType<typeof distribution>;
  readonly refused: number;
  readonly utilisation: { mean: number; se: number };
  readonly seconds: number;
}

/** `nasrl bench async`: search quality and staleness against the number of replicas. */
export async function benchAsyncCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_ASYNC_USAGE);
    return 0;
  }
  const args = parseArgs(argv, VALUED, ['json']);
  if (args.positional.length > 0) throw new UsageError(`nasrl bench async takes no arguments, got ${JSON.stringify(args.positional[0])}`);
  const ks = stringFlag(args, 'replicas', '1,10,100').split(',').map((s) => {
    if (!/^\d{1,5}$/.test(s.trim()) || Number(s) < 1) throw new UsageError(`--replicas: expected a comma-separated list of positive integers, got ${JSON.stringify(s)}`);
    return Number(s);
  });
  const m = intFlag(args, 'children', 8, 1, 1024);
  const seeds = intFlag(args, 'seeds', 3, 1, 1000);
  const bound = stringFlag(args, 'staleness-bound', 'unbounded');
  if (!/^(\d{1,9}|unbounded)$/.test(bound)) throw new UsageError(`--staleness-bound: expected a non-negative integer or "unbounded", got ${JSON.stringify(bound)}`);
  const rule = stringFlag(args, 'staleness-rule', 'none');
  if (!(STALENESS_RULES as readonly string[]).includes(rule)) throw new UsageError(`--staleness-rule: expected ${STALENESS_RULES.join(', ')}, got ${JSON.stringify(rule)}`);
  const accumulate = intFlag(args, 'accumulate', 1, 1, 1000);
  const tuned = tunedReinforce('nb201');
  const tablePath = path.resolve(stringFlag(args, 'table', DEFAULT_NB201_TABLE));
  const config = parseExperimentConfig({
    id: 'bench-async', space: 'nb201', tablePath, reuseEvaluations: false,
    budgetArchs: intFlag(args, 'budget-archs', 12_800, 1),
    childrenPerStep: m,
    stepsInFlight: intFlag(args, 'steps-in-flight', 1, 1, 16),
    learningRate: numberFlag(args, 'lr', tuned.learningRate, 0),
    baselineDecay: tuned.baselineDecay, entropyWeight: tuned.entropyWeight, rewardScale: tuned.rewardScale, rewardPower: tuned.rewardPower,
    policy: tuned.policy,
  });
  const table = Nb201Table.load(tablePath);
  const staleness = { bound: bound === 'unbounded' ? Infinity : Number(bound), rule: rule as StalenessRule };
  console.log(`nasrl bench async: ${config.budgetArchs} architectures per search, m=${m}, ${config.stepsInFlight} step(s) in flight, lr ${config.learningRate}, staleness bound ${bound}, rule ${rule}, accumulate ${accumulate}; ${seeds} seeds per K`);
  const rows: AsynchronyRow[] = [];
  const runs: Record<string, unknown>[] = [];
  for (const k of ks) {
    const workers = intFlag(args, 'workers', k * m, 1);
    const started = Date.now();
    const per = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const run = runAsynchrony({ config, table, replicas: k, workers, staleness, accumulate, seed });
      per.push(run);
      const { children: _children, staleness: s, ...figures } = run;
      const stalenessMedian = distribution(s).median;
      runs.push({ replicas: k, workers, seed, ...figures, stalenessMedian });
      process.stderr.write(`  K=${k} seed ${seed}: best test ${run.bestTest.toFixed(2)}, last tenth ${run.lastTenthMean.toFixed(2)}, staleness median ${stalenessMedian}\n`);
    }
    const ms = (xs: number[]): { mean: number; se: number } => ({ mean: mean(xs), se: standardError(xs) });
    rows.push({
      replicas: k, workers, seeds,
      bestTest: ms(per.map((r) => r.bestTest)),
      lastTenthMean: ms(per.map((r) => r.lastTenthMean)),
      staleness: distribution(per.flatMap((r) => r.staleness)),
      refused: per.reduce((a, r) => a + r.refused, 0),
      utilisation: ms(per.map((r) => r.utilisation)),
      seconds: (Date.now() - started) / 1000,
    });
  }
  const f = (x: { mean: number; se: number }, d = 2): string => `${x.mean.toFixed(d)} ± ${Number.isFinite(x.se) ? x.se.toFixed(d) : '-'}`;
  console.log('| K | W | best test (NB201 protocol) | mean validation, last tenth | staleness median / p90 / max | refused | utilisation | seconds |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.replicas} | ${r.workers} | ${f(r.bestTest)} | ${f(r.lastTenthMean)} | ${r.staleness.median} / ${r.staleness.p90} / ${r.staleness.max} | ${r.refused} | ${f({ mean: 100 * r.utilisation.mean, se: 100 * r.utilisation.se }, 1)}% | ${r.seconds.toFixed(0)} |`);
  }
  const out = stringFlag(args, 'out');
  if (out !== undefined) writeFileSync(out, `${JSON.stringify({ config, staleness: { bound, rule }, accumulate, rows, runs }, null, 2)}\n`);
  if (switchFlag(args, 'json')) console.log(JSON.stringify(rows));
  return 0;
}
