import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { STALENESS_RULES } from '@nasrl/ps';
import { Nb201Table } from '@nasrl/search';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { DEFAULT_NB201_TABLE } from '../defaults';
import {
  commandDelta, distribution, parseCommandStats, qualityCurve, sampleRun, utilisation, type ChildSpan, type Distribution, type ProcessSample,
} from '../simulation';
import { localExperiment, runLocalCluster, type LocalSetup } from './local';

export const SIMULATE_USAGE = `nasrl simulate [--shards S] [--replicas K] [--children M] [--workers W] [--budget-archs N] [--steps-in-flight N]
               [--controller-processes P] [--worker-processes Q] [--time-scale X] [--table PATH] [--lr X]
               [--staleness-bound N|unbounded] [--staleness-rule none|inverse|inverse-sqrt] [--out DIR] [--id ID] [--json]

The paper's parallel setup on one machine, with simulated children: NAS-Bench-201 rewards, and training
times from its table (cifar10_train_seconds_200ep × 12/200) × --time-scale, slept by the workers. Defaults
are the paper's sizes: S=20 shards, K=100 replicas of m=8 children, W=800 workers, 12,800 architectures,
reuse off (every sampled architecture is evaluated). The K replicas run in P controller processes (default
one per 50 replicas) and the W workers in Q worker processes (default one per 200 workers), through the
same services as \`nasrl local\`. Reports the start-up time, the virtual workers' utilisation, the staleness
of every applied gradient (versions behind, per shard push), Redis commands per evaluation (INFO
commandstats), pushes per second per shard, CPU per controller step and per role, the summed memory of the
run's processes and the search's quality curve; writes them to DIR/simulation.json (default runs/ID).
  --steps-in-flight N
                   steps each replica keeps in flight (default 1: it waits for its step's slowest child, so
                   W = K·m workers cannot all stay busy; 2 keeps them busy with staler gradients)
  --time-scale X   simulated seconds per tabulated second (default 0.25: children of 8-52 s, median 27 s)
  --staleness-bound N, --staleness-rule R
                   the shards' staleness policy (SPEC section 5): refuse gradients more than N versions
                   behind; scale the learning rate by 1/(1+s) or 1/sqrt(1+s). Default unbounded, none
  --json           also print the report as one JSON line`;

const VALUED = ['shards', 'replicas', 'children', 'workers', 'budget-archs', 'steps-in-flight', 'controller-processes', 'worker-processes', 'time-scale', 'table', 'lr', 'out', 'id', 'staleness-bound', 'staleness-rule'];

/** Reads what a simulation reports from the services' log lines and from /proc while it runs. */
class Recorder {
  readonly spans: ChildSpan[] = [];
  readonly staleness: number[] = [];
  readonly pushes = new Map<number, { count: number; first: number; last: number }>();
  steps = 0;
  refusedStale = 0;
  controllerCpuMs = 0;
  controllerProcessesClosed = 0;
  peakRssBytes = 0;
  readonly peakRssByRole = new Map<string, number>();
  readonly cpuByPid = new Map<number, { role: string; cpuMs: number }>();
  private readonly activeAt = new Map<string, number>();

  line(service: string, line: Record<string, unknown>): void {
    if (service.startsWith('worker')) {
      const job = String(line.job);
      const at = Date.parse(String(line.time));
      if (line.event === 'active') this.activeAt.set(job, at);
      else if (line.event === 'completed') {
        const start = this.activeAt.get(job);
        this.activeAt.delete(job);
        if (start !== undefined) this.spans.push({ job, step: job.slice(0, job.lastIndexOf('.')), start, end: at });
      }
    } else if (service.startsWith('controller')) {
      if (line.event === 'step-applied' && Array.isArray(line.push)) {
        const at = Date.parse(String(line.t));
        if (line.push.length > 0) this.steps++;
        for (const p of line.push as { shard?: unknown; status?: unknown; staleness?: unknown }[]) {
          if (p.status === 'rejected-stale') this.refusedStale++;
          if (p.status !== 'applied' || typeof p.shard !== 'number') continue;
          if (typeof p.staleness === 'number') this.staleness.push(p.staleness);
          const s = this.pushes.get(p.shard) ?? { count: 0, first: at, last: at };
          this.pushes.set(p.shard, { count: s.count + 1, first: Math.min(s.first, at), last: Math.max(s.last, at) });
        }
      } else if ((line.event === 'started' || line.event === 'closed') && typeof line.cpuUserMs === 'number' && typeof line.cpuSystemMs === 'number') {
        // CPU of the steps: from the replicas' start (libraries loaded, experiment read) to the process's close.
        this.controllerCpuMs += (line.event === 'closed' ? 1 : -1) * (line.cpuUserMs + line.cpuSystemMs);
        if (line.event === 'closed') this.controllerProcessesClosed++;
      }
    }
  }

  sample(samples: readonly ProcessSample[]): void {
    const total = samples.reduce((a, s) => a + s.rssBytes, 0);
    this.peakRssBytes = Math.max(this.peakRssBytes, total);
    const byRole = new Map<string, number>();
    for (const s of samples) {
      byRole.set(s.role, (byRole.get(s.role) ?? 0) + s.rssBytes);
      this.cpuByPid.set(s.pid, { role: s.role, cpuMs: Math.max(s.cpuMs, this.cpuByPid.get(s.pid)?.cpuMs ?? 0) });
    }
    for (const [role, bytes] of byRole) this.peakRssByRole.set(role, Math.max(bytes, this.peakRssByRole.get(role) ?? 0));
  }

  cpuSecondsByRole(): Record<string, number> {
    const sums: Record<string, number> = {};
    for (const { role, cpuMs } of this.cpuByPid.values()) sums[role] = (sums[role] ?? 0) + cpuMs / 1000;
    return sums;
  }
}

/** What `nasrl simulate` reports (DIR/simulation.json). */
export interface SimulationReport {
  readonly sizes: { shards: number; replicas: number; childrenPerStep: number; stepsInFlight: number; workers: number; budgetArchs: number; controllerProcesses: number; workerProcesses: number; timeScale: number };
  /** The shards' staleness policy. */
  readonly stalenessPolicy: { bound: string; rule: string };
  /** Shard pushes refused as stale (SPEC section 5's bound). */
  readonly refusedStale: number;
  readonly evaluated: number;
  readonly distinctChildren: number;
  readonly startupSeconds: number;
  readonly firstResultSeconds: number;
  readonly wallSeconds: number;
  readonly evaluationsPerSecond: number;
  readonly workerUtilisation: { overall: number; steady: number; stepBound: number };
  readonly staleness: Distribution & { readonly histogram: Record<string, number> };
  readonly redis: { commandsPerEvaluation: number; commands: number; topCommands: [string, number][] };
  readonly pushesPerSecondPerShard: Distribution;
  readonly controllerCpuMsPerStep: number;
  readonly steps: number;
  readonly cpuSecondsByRole: Record<string, number>;
  readonly peakRssMiB: number;
  readonly peakRssMiBByRole: Record<string, number>;
  readonly curve: ReturnType<typeof qualityCurve>;
}

/** `nasrl simulate`: the paper's sizes on one machine with simulated children, and what they cost. */
export async function simulateCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(SIMULATE_USAGE);
    return 0;
  }
  const args = parseArgs(argv, VALUED, ['json']);
  if (args.positional.length > 0) throw new UsageError(`nasrl simulate takes no arguments, got ${JSON.stringify(args.positional[0])}`);
  const shards = intFlag(args, 'shards', 20, 1, 64);
  const replicas = intFlag(args, 'replicas', 100, 1, 10_000);
  const workers = intFlag(args, 'workers', 800, 1, 100_000);
  const controllerProcesses = intFlag(args, 'controller-processes', Math.ceil(replicas / 50), 1, replicas);
  const workerProcesses = intFlag(args, 'worker-processes', Math.ceil(workers / 200), 1, workers);
  const passed = (name: string, fallback?: string): string[] => {
    const v = stringFlag(args, name) ?? fallback;
    return v === undefined ? [] : [`--${name}`, v];
  };
  // The experiment is built as `nasrl local --space nb201` builds it, so both refuse the same bad values.
  const experiment = localExperiment([
    '--space', 'nb201', '--no-reuse',
    ...passed('budget-archs', '12800'), ...passed('children', '8'), ...passed('steps-in-flight'), ...passed('time-scale', '0.25'), ...passed('table', DEFAULT_NB201_TABLE),
    ...passed('lr'), ...passed('out'), ...passed('id', `sim-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`),
  ]);
  const { config, out } = experiment;
  const bound = stringFlag(args, 'staleness-bound', 'unbounded');
  if (!/^(\d{1,9}|unbounded)$/.test(bound)) throw new UsageError(`--staleness-bound: expected a non-negative integer or "unbounded", got ${JSON.stringify(bound)}`);
  const rule = stringFlag(args, 'staleness-rule', 'none');
  if (!(STALENESS_RULES as readonly string[]).includes(rule)) throw new UsageError(`--staleness-rule: expected ${STALENESS_RULES.join(', ')}, got ${JSON.stringify(rule)}`);
  const table = Nb201Table.load(config.tablePath ?? '');
  const recorder = new Recorder();
  const launched = Date.now();
  let controllersAt = 0;
  let before = new Map<string, number>();
  let after = new Map<string, number>();
  let results: { accuracy: number; test: number | null; childId: string }[] = [];
  let wallMs = 0;
  const redisPid = (): number | null => {
    try {
      return Number(readFileSync(path.join(out, 'redis', 'redis.pid'), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  const sampler = setInterval(() => recorder.sample(sampleRun(out, redisPid(), [process.pid])), 1_000);
  const setup: LocalSetup = {
    ...experiment, shards, replicas, workers, controllerProcesses, workerProcesses,
    shardEnv: { NASRL_PS_STALENESS_BOUND: bound, NASRL_PS_STALENESS_RULE: rule },
    onServiceLine: (service, line) => recorder.line(service, line),
    beforeControllers: async ({ store }) => {
      controllersAt = Date.now();
      before = parseCommandStats(String(await store.redis.info('commandstats')));
    },
  };
  let code: number;
  try {
    code = await runLocalCluster(setup, async ({ store, wallMs: ms }) => {
      after = parseCommandStats(String(await store.redis.info('commandstats')));
      wallMs = ms;
      results = (await store.results(config.id)).map((e) => ({ accuracy: e.result.accuracy, test: table.evaluate(e.tokens)?.test ?? null, childId: e.childId }));
    });
  } finally {
    clearInterval(sampler);
  }
  if (code !== 0) return code;
  const report = simulationReport({ setup, recorder, results, before, after, wallMs, startupMs: controllersAt - launched });
  writeFileSync(path.join(out, 'simulation.json'), `${JSON.stringify(report, null, 2)}\n`);
  printReport(report);
  if (switchFlag(args, 'json')) console.log(JSON.stringify(report));
  return 0;
}

function simulationReport(o: {
  setup: LocalSetup; recorder: Recorder; results: { accuracy: number; test: number | null; childId: string }[];
  before: Map<string, number>; after: Map<string, number>; wallMs: number; startupMs: number;
}): SimulationReport {
  const { setup, recorder: r, results } = o;
  const commands = commandDelta(o.before, o.after);
  const firstEnd = r.spans.length > 0 ? Math.min(...r.spans.map((s) => s.end)) : NaN;
  const firstStart = r.spans.length > 0 ? Math.min(...r.spans.map((s) => s.start)) : NaN;
  const u = utilisation(r.spans, setup.workers);
  const histogram: Record<string, number> = {};
  for (const s of r.staleness) histogram[String(s)] = (histogram[String(s)] ?? 0) + 1;
  const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);
  return {
    sizes: {
      shards: setup.shards, replicas: setup.replicas, childrenPerStep: setup.config.childrenPerStep, stepsInFlight: setup.config.stepsInFlight, workers: setup.workers, budgetArchs: setup.config.budgetArchs,
      controllerProcesses: setup.controllerProcesses ?? setup.replicas, workerProcesses: setup.workerProcesses ?? setup.workers, timeScale: setup.config.timeScale,
    },
    stalenessPolicy: { bound: setup.shardEnv?.NASRL_PS_STALENESS_BOUND ?? 'unbounded', rule: setup.shardEnv?.NASRL_PS_STALENESS_RULE ?? 'none' },
    refusedStale: r.refusedStale,
    evaluated: results.length,
    distinctChildren: new Set(results.map((e) => e.childId)).size,
    startupSeconds: o.startupMs / 1000,
    // From the start of the controllers (their first step's sampling) to the first child that finished.
    firstResultSeconds: (firstEnd - firstStart) / 1000,
    wallSeconds: o.wallMs / 1000,
    evaluationsPerSecond: results.length / (o.wallMs / 1000),
    workerUtilisation: { overall: u.overall, steady: u.steady, stepBound: u.stepBound },
    staleness: { ...distribution(r.staleness), histogram },
    redis: { commandsPerEvaluation: commands.total / Math.max(1, results.length), commands: commands.total, topCommands: commands.byCommand },
    pushesPerSecondPerShard: distribution([...r.pushes.values()].map((p) => (p.last > p.first ? (1000 * p.count) / (p.last - p.first) : NaN)).filter(Number.isFinite)),
    controllerCpuMsPerStep: r.controllerCpuMs / Math.max(1, r.steps),
    steps: r.steps,
    cpuSecondsByRole: r.cpuSecondsByRole(),
    peakRssMiB: mib(r.peakRssBytes),
    peakRssMiBByRole: Object.fromEntries([...r.peakRssByRole].map(([role, b]) => [role, mib(b)])),
    curve: qualityCurve(results, 16),
  };
}

function printReport(r: SimulationReport): void {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const s = r.sizes;
  const lines = [
    `nasrl simulate: S=${s.shards} shards, K=${s.replicas} replicas (${s.controllerProcesses} processes) × m=${s.childrenPerStep} (${s.stepsInFlight} step(s) in flight each), W=${s.workers} workers (${s.workerProcesses} processes), time scale ${s.timeScale}`,
    `  evaluated ${r.evaluated} of ${s.budgetArchs} (${r.distinctChildren} distinct children) in ${r.wallSeconds.toFixed(0)} s: ${r.evaluationsPerSecond.toFixed(1)}/s; start-up ${r.startupSeconds.toFixed(1)} s`,
    `  worker utilisation: ${pct(r.workerUtilisation.steady)} once started (${pct(r.workerUtilisation.overall)} overall); synchronous steps allow ${pct(r.workerUtilisation.stepBound)}`,
    `  staleness (versions behind, per applied shard push): median ${r.staleness.median}, mean ${r.staleness.mean.toFixed(1)}, p90 ${r.staleness.p90}, max ${r.staleness.max} (${r.staleness.count} pushes; bound ${r.stalenessPolicy.bound}, rule ${r.stalenessPolicy.rule}, ${r.refusedStale} refused as stale)`,
    `  Redis: ${r.redis.commandsPerEvaluation.toFixed(1)} commands per evaluation (${r.redis.topCommands.slice(0, 6).map(([c, n]) => `${c} ${(n / Math.max(1, r.evaluated)).toFixed(1)}`).join(', ')})`,
    `  pushes per second per shard: median ${r.pushesPerSecondPerShard.median.toFixed(2)}; controller CPU per step ${r.controllerCpuMsPerStep.toFixed(1)} ms (${r.steps} steps)`,
    `  CPU seconds by role: ${Object.entries(r.cpuSecondsByRole).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`,
    `  peak summed memory ${r.peakRssMiB} MiB (${Object.entries(r.peakRssMiBByRole).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `  quality: ${r.curve.map((p) => `${p.evaluated}: best ${p.bestAccuracy.toFixed(2)} (test ${p.bestTest?.toFixed(2) ?? '-'}), mean ${p.windowMeanAccuracy.toFixed(2)}`).join('; ')}`,
  ];
  console.log(lines.join('\n'));
}
