import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConvSpace } from '@nasrl/spaces';
import {
  CHILDREN_QUEUE, connectRedis, DEFAULT_QUEUE_PREFIX, ExperimentStore, InvalidConfigError, parseExperimentConfig, STEPS_QUEUE, type ExperimentConfig, type StoredEvaluation,
} from '@nasrl/queue';
import {
  LocalCluster, livePid, repoRoot, runGuard, signalAll, startGuard, StartupInterruptedError, waitForExit, writePidFile, type Guard,
} from '@nasrl/supervisor';
import { intFlag, numberFlag, parseArgs, refusedRewardFlag, stringFlag, switchFlag, UsageError, type ParsedArgs } from '../args';
import { DEFAULT_NB201_TABLE, tunedReinforce } from '../defaults';
import { CONV_PRESET_NAMES, convPreset } from '../presets';
import { RunOutput, writeFileAtomic } from '../report';
import { RNN_LOCAL_FLAGS, RNN_LOCAL_HELP, rnnFlagOf, rnnLocalExperiment, rnnRetrainFlags } from './local-rnn';

const VALUED = [
  'shards', 'replicas', 'children', 'workers', 'budget-archs', 'space', 'preset', 'dataset', 'data-dir', 'table', 'out', 'id', 'epochs', 'subset', 'lr',
  'refused-reward', 'time-scale', 'resume', 'steps-in-flight', ...Object.keys(RNN_LOCAL_FLAGS),
];
const SWITCHES = ['help', 'no-reuse'];

export const LOCAL_USAGE = `nasrl local [--space conv|nb201|table|rnn] [--preset ${CONV_PRESET_NAMES.join('|')}] [--budget-archs N] [--children M]
            [--steps-in-flight N] [--shards S] [--replicas K] [--workers W] [--dataset fashion-mnist|cifar10|synthetic] [--data-dir DIR]
            [--table PATH] [--epochs N] [--subset N] [--lr X] [--refused-reward worst|X] [--time-scale X] [--no-reuse]
            [--base N] [--corpus brown|ptb] [--level char|word] [--hidden N] [--layers N] [--train-tokens N|all]
            [--eval-tokens N|all] [--reward-c X] [--out DIR] [--id ID]
nasrl local --resume DIR [--workers W] [--replicas K]

Runs the whole cluster on this machine: its own redis-server (unless REDIS_URL is set), S parameter-server
shards, K controller replicas and W workers as separate processes, until N architectures are evaluated.
The conv space takes its settings from a preset (default small; paper is the paper's CIFAR-10 search, which
needs --data-dir); the flags override them. --dataset, --data-dir, --epochs and --subset are for the conv
space; --table and --time-scale for nb201 (default table ${DEFAULT_NB201_TABLE}) and table (--table required:
the table space JSON file). --refused-reward is what an architecture the evaluator refuses (over the limits,
missing from the table) earns: the worst reward seen so far (default) or X. --lr is the controller's learning
rate (Adam, on the shards). --steps-in-flight N (default 1, the
paper's loop) lets each replica sample its next step while its last one trains: workers stay busy, gradients
are staler (see the README's scaling section).

${RNN_LOCAL_HELP}

The output folder (default runs/ID) follows the search while it runs: results.jsonl gets a line per evaluated
architecture as it arrives, best.json is replaced when the best architectures change, and report.html is
rewritten every few seconds (open it in a browser: it reloads itself). Redis keeps its data in DIR/redis and
the shards their checkpoints in DIR/checkpoints, so a run stopped with Ctrl-C, or killed, is continued by
\`nasrl local --resume DIR\`, which evaluates exactly the rest of the budget.`;

/** How often the live report is rewritten (when results arrived) and reloads itself in a browser, in seconds. */
const REPORT_EVERY_SECONDS = 10;
/** A progress line every this many seconds when stdout is not a terminal. */
const PLAIN_PROGRESS_EVERY_MS = 10_000;

/** What `runLocalCluster` starts. */
export interface LocalSetup {
  readonly config: ExperimentConfig;
  readonly shards: number;
  readonly replicas: number;
  readonly workers: number;
  readonly out: string;
  /** The conv preset the configuration came from (for the retrain command). Default small. */
  readonly preset?: string;
  /** Continue the experiment stored in `out` (see `nasrl local --resume`). Default false. */
  readonly resume?: boolean;
  /** Show the live progress line. Default true. */
  readonly progress?: boolean;
  /**
   * Processes the K replicas are spread over, in contiguous ranges of indices (NASRL_CONTROLLER_REPLICAS).
   * Default K: a process per replica.
   */
  readonly controllerProcesses?: number;
  /**
   * Processes the W workers are spread over: above W they evaluate several simulated children each
   * (NASRL_WORKER_CHILDREN), which only table experiments allow. Default W: a process per worker.
   */
  readonly workerProcesses?: number;
  /** Told every JSON log line of every service (`nasrl simulate` reads staleness and CPU from them). */
  readonly onServiceLine?: (service: string, line: Record<string, unknown>) => void;
  /** More environment of every shard (its staleness policy, for example). Default none. */
  readonly shardEnv?: Readonly<Record<string, string>>;
  /** Called once every shard listens and every worker is ready, just before the controllers start. */
  readonly beforeControllers?: (ctx: { readonly store: ExperimentStore; readonly redisUrl: string }) => Promise<void>;
}

/** What the output folder remembers of how a run was launched (launch.json), for --resume. */
interface LaunchRecord {
  readonly shards: number;
  readonly replicas: number;
  readonly workers: number;
  readonly preset: string | null;
  /** 'own': the run's redis-server keeps its data in <out>/redis; 'external': REDIS_URL. */
  readonly redis: 'own' | 'external';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The experiment a `nasrl local` command line describes. */
export function localExperiment(argv: readonly string[]): LocalSetup {
  const args = parseArgs(argv, VALUED, SWITCHES);
  if (args.flags.has('resume')) return resumeSetup(args);
  const space = stringFlag(args, 'space', 'conv');
  if (!['conv', 'nb201', 'table', 'rnn'].includes(space)) throw new UsageError(`--space: expected conv, nb201, table or rnn, got "${space}"`);
  const id = stringFlag(args, 'id', `${space}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`);
  refuseUnusedFlags(args, space);
  // NAS-Bench-201's accuracies are percent (scale 0.01, power 10); a table space's rewards stay as they are.
  const tuned = tunedReinforce(space === 'nb201' ? 'nb201' : 'table');
  // A flag given on the command line, parsed; absent flags leave the preset's (or default) value.
  const given = <T>(name: string, parse: () => T): T | undefined => (args.flags.has(name) ? parse() : undefined);
  const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const overrides = defined({
    budgetArchs: given('budget-archs', () => intFlag(args, 'budget-archs', 0, 1)),
    childrenPerStep: given('children', () => intFlag(args, 'children', 0, 1, 1024)),
    stepsInFlight: given('steps-in-flight', () => intFlag(args, 'steps-in-flight', 1, 1, 16)),
    learningRate: given('lr', () => numberFlag(args, 'lr', 0, 0)),
    refusedReward: given('refused-reward', () => refusedRewardFlag(args)),
    reuseEvaluations: switchFlag(args, 'no-reuse') ? false : undefined,
  });
  const presetName = stringFlag(args, 'preset');
  let raw: Record<string, unknown>;
  let preset: string | undefined;
  if (space === 'conv') {
    preset = presetName ?? 'small';
    let experiment: Readonly<Record<string, unknown>>;
    try {
      experiment = convPreset(preset).experiment;
    } catch (err) {
      throw new UsageError(`--preset: ${(err as Error).message}`);
    }
    raw = {
      baselineDecay: tuned.baselineDecay,
      entropyWeight: tuned.entropyWeight,
      rewardScale: 1,
      ...experiment,
      id,
      space,
      ...overrides,
      training: {
        ...(isRecord(experiment.training) ? experiment.training : {}),
        ...defined({
          dataset: stringFlag(args, 'dataset'),
          dataDir: stringFlag(args, 'data-dir'),
          subset: given('subset', () => intFlag(args, 'subset', 0, 10)),
          epochs: given('epochs', () => intFlag(args, 'epochs', 0, 1)),
        }),
      },
    };
  } else if (space === 'rnn') {
    if (presetName !== undefined) throw new UsageError(`--preset is for the conv space (${CONV_PRESET_NAMES.join(', ')}); --space ${space} has none`);
    raw = rnnLocalExperiment(args, id, overrides);
  } else {
    if (presetName !== undefined) throw new UsageError(`--preset is for the conv space (${CONV_PRESET_NAMES.join(', ')}); --space ${space} has none`);
    raw = {
      id,
      space,
      budgetArchs: 400,
      childrenPerStep: tuned.architecturesPerStep,
      learningRate: tuned.learningRate,
      baselineDecay: tuned.baselineDecay,
      entropyWeight: tuned.entropyWeight,
      rewardScale: tuned.rewardScale,
      rewardPower: tuned.rewardPower,
      ...overrides,
      tablePath: path.resolve(space === 'nb201' ? stringFlag(args, 'table', DEFAULT_NB201_TABLE) : requiredTable(args)),
      timeScale: numberFlag(args, 'time-scale', 0, 0),
    };
  }
  let config: ExperimentConfig;
  try {
    config = parseExperimentConfig(raw);
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    const flag = rnnFlagOf(err.field);
    const hint = err.field === 'training.dataDir' ? ' (pass --data-dir DIR)' : flag !== undefined ? ` (${flag})` : '';
    throw new UsageError(`${err.message}${hint}`);
  }
  return {
    config,
    shards: intFlag(args, 'shards', 2, 1, 64),
    replicas: intFlag(args, 'replicas', 2, 1, 256),
    workers: intFlag(args, 'workers', 2, 1, 256),
    out: path.resolve(stringFlag(args, 'out', path.join('runs', id))),
    ...(preset === undefined ? {} : { preset }),
  };
}

/** `nasrl local --resume DIR`: the run as DIR/experiment.json and DIR/launch.json describe it. */
function resumeSetup(args: ParsedArgs): LocalSetup {
  const out = path.resolve(stringFlag(args, 'resume') as string);
  const changeable = ['resume', 'workers', 'replicas'];
  const fixed = [...args.flags.keys()].filter((k) => !changeable.includes(k));
  if (fixed.length > 0 || args.positional.length > 0) {
    throw new UsageError(`--resume continues the experiment as ${path.join(out, 'experiment.json')} describes it; only --workers and --replicas may change (got ${[...fixed.map((f) => `--${f}`), ...args.positional].join(', ')})`);
  }
  let text: string;
  try {
    text = readFileSync(path.join(out, 'experiment.json'), 'utf8');
  } catch {
    throw new UsageError(`--resume: ${out} has no experiment.json; give the output folder of a nasrl local run (runs/ID)`);
  }
  const config = parseExperimentConfig(text);
  const launch = readLaunchRecord(out);
  return {
    config,
    shards: launch.shards,
    replicas: intFlag(args, 'replicas', launch.replicas, 1, 256),
    workers: intFlag(args, 'workers', launch.workers, 1, 256),
    out,
    ...(launch.preset === null ? {} : { preset: launch.preset }),
    resume: true,
  };
}

function readLaunchRecord(out: string): LaunchRecord {
  const fallback: LaunchRecord = { shards: 2, replicas: 2, workers: 2, preset: null, redis: existsSync(path.join(out, 'redis')) ? 'own' : 'external' };
  try {
    const r = JSON.parse(readFileSync(path.join(out, 'launch.json'), 'utf8')) as Partial<LaunchRecord>;
    return { ...fallback, ...r };
  } catch {
    return fallback;
  }
}

/** One results.jsonl line: an evaluated architecture. */
export function resultLine(e: StoredEvaluation): Record<string, unknown> {
  return {
    id: e.childId,
    index: e.index,
    tokens: e.tokens,
    architecture: e.arch,
    reward: e.result.reward,
    accuracy: e.result.accuracy,
    curve: e.result.curve,
    parameters: e.result.parameters,
    seconds: e.result.seconds,
    ...(e.result.perplexity === undefined ? {} : { perplexity: e.result.perplexity }),
    cached: e.result.cached,
    worker: e.result.worker,
    replica: e.replica,
    step: e.stepId,
    parameterVersions: (e as { parameterVersions?: readonly number[] }).parameterVersions ?? null,
  };
}

/** Writes results.jsonl, best.json and report.html for an experiment; returns the number of evaluations written. */
export async function exportResults(store: ExperimentStore, id: string, out: string): Promise<number> {
  mkdirSync(out, { recursive: true });
  const lines = (await store.results(id)).map(resultLine);
  writeFileAtomic(path.join(out, 'results.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const output = RunOutput.open(out, await store.get(id));
  output.writeBest(true);
  output.writeReport();
  return lines.length;
}

/**
 * The validation accuracy as people read it: conv children report a fraction, NAS-Bench-201 a percentage,
 * rnn children 1 / perplexity (shown as the perplexity).
 */
export function formatAccuracy(space: string, accuracy: number | null | undefined): string {
  if (accuracy === null || accuracy === undefined || !Number.isFinite(accuracy)) return '-';
  if (space === 'rnn') return accuracy > 0 ? `perplexity ${(1 / accuracy).toFixed(2)}` : '-';
  if (space === 'conv') return `${(100 * accuracy).toFixed(2)}%`;
  if (space === 'nb201') return `${accuracy.toFixed(2)}%`;
  return accuracy.toFixed(4);
}

/** 42s, 5m38s, 2h05m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What the progress line shows. */
export interface ProgressState {
  readonly space: string;
  readonly evaluated: number;
  readonly budget: number;
  /** Architectures per minute lately; null until known. */
  readonly perMinute: number | null;
  readonly bestAccuracy: number | null;
  /** The conv space's current depth (its schedule); null for other spaces. */
  readonly depth: number | null;
}

/** The progress line: a bar, evaluated/total, the rate, the time left at that rate, the best accuracy and the depth. */
export function progressLine(p: ProgressState, width = 24): string {
  const done = Math.min(p.evaluated, p.budget);
  const filled = Math.round((width * done) / Math.max(1, p.budget));
  const left = p.perMinute !== null && p.perMinute > 0 ? formatDuration((60 * (p.budget - done)) / p.perMinute) : '-';
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.evaluated}/${p.budget}`,
    `${p.perMinute === null ? '-' : p.perMinute.toFixed(p.perMinute < 10 ? 1 : 0)}/min`,
    `left ${left}`,
    `best ${formatAccuracy(p.space, p.bestAccuracy)}`,
  ];
  if (p.depth !== null) parts.push(`depth ${p.depth}`);
  return parts.join('  ');
}

/** Architectures per minute over the last two minutes (or since the start), from (time, count) samples. */
export class RateMeter {
  private readonly samples: { t: number; n: number }[] = [];
  constructor(private readonly windowMs = 120_000, private readonly minimumMs = 5_000) {}

  add(t: number, n: number): void {
    this.samples.push({ t, n });
    while (this.samples.length > 2 && (this.samples[1] as { t: number }).t <= t - this.windowMs) this.samples.shift();
  }

  /** Per minute; null while less than `minimumMs` was seen or nothing arrived in it. */
  perMinute(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t - first.t < this.minimumMs || last.n <= first.n) return null;
    return ((last.n - first.n) * 60_000) / (last.t - first.t);
  }
}

/** The progress line on stdout: redrawn in place on a terminal, a plain line every 10 s otherwise. */
class Screen {
  private shown = '';
  private lastPlain = 0;
  private readonly tty = Boolean(process.stdout.isTTY);
  constructor(private readonly enabled: boolean) {}

  progress(line: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      this.shown = line;
      process.stdout.write(`\r${line}\x1b[K`);
    } else if (Date.now() - this.lastPlain >= PLAIN_PROGRESS_EVERY_MS) {
      this.lastPlain = Date.now();
      process.stdout.write(`${line}\n`);
    }
  }

  /** Prints a message above the progress line. */
  print(message: string, stream: NodeJS.WriteStream = process.stdout): void {
    if (this.tty && this.shown !== '') process.stdout.write('\r\x1b[K');
    stream.write(`${message}\n`);
    if (this.tty && this.shown !== '') process.stdout.write(this.shown);
  }

  /** Leaves the progress line as it is and moves below it. */
  end(): void {
    if (this.tty && this.shown !== '') process.stdout.write('\n');
    this.shown = '';
  }
}

/** The flags that only some spaces take (--preset is refused on its own, with the preset names). */
const SPACE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  conv: ['dataset', 'data-dir', 'epochs', 'subset'],
  nb201: ['table', 'time-scale'],
  table: ['table', 'time-scale'],
  rnn: Object.keys(RNN_LOCAL_FLAGS),
};

/** Refuses a flag the space does not use, rather than dropping it without a word; says which spaces take it. */
function refuseUnusedFlags(args: ParsedArgs, space: string): void {
  const own = SPACE_FLAGS[space] ?? [];
  const all = [...new Set(Object.values(SPACE_FLAGS).flat())];
  const given = all.filter((f) => args.flags.has(f) && !own.includes(f));
  if (given.length === 0) return;
  const takers = given.map((f) => `--${f} is for --space ${Object.keys(SPACE_FLAGS).filter((s) => SPACE_FLAGS[s]?.includes(f)).join(' or ')}`);
  throw new UsageError(`${given.map((f) => `--${f}`).join(', ')}: not for --space ${space}, which takes ${own.map((f) => `--${f}`).join(', ')}; ${takers.join(', ')}`);
}

/** --table of the table space: its table space JSON file, which has no default. */
function requiredTable(args: ParsedArgs): string {
  const table = stringFlag(args, 'table');
  if (table === undefined) throw new UsageError('--space table needs --table PATH: the table space JSON file (token types and a reward per architecture)');
  return table;
}

/** Ctrl-C (SIGINT), SIGTERM and SIGHUP: the first stops the run in order, the second at once. */
class Interrupts {
  count = 0;
  /** Resolves at the first signal. */
  readonly first: Promise<'interrupted'>;
  private resolveFirst: () => void = () => undefined;
  private readonly forceListeners: (() => void)[] = [];
  private readonly handler = (): void => {
    this.count++;
    this.onSignal(this.count);
    if (this.count === 1) this.resolveFirst();
    if (this.count === 2) for (const f of this.forceListeners) f();
  };

  constructor(private readonly onSignal: (count: number) => void) {
    this.first = new Promise((resolve) => (this.resolveFirst = () => resolve('interrupted')));
    for (const s of SIGNALS) process.on(s, this.handler);
  }

  /** Calls `f` at the second signal (now, if it came already). */
  onForce(f: () => void): void {
    this.forceListeners.push(f);
    if (this.count >= 2) f();
  }

  dispose(): void {
    for (const s of SIGNALS) process.off(s, this.handler);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** `p`, or `fallback` when it takes longer than `ms` (a store read while Redis is gone must not hang the launcher). */
async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where this process's paths are shown: relative to the working directory when inside it, quoted for a shell. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  const shown = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  return shellQuote(shown);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How to run `nasrl` from the working directory: `npx nasrl` inside the repository, its bin script elsewhere. */
export function nasrlCommand(): string {
  const relative = path.relative(repoRoot(), process.cwd());
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) return 'npx nasrl';
  return `node ${shellQuote(path.join(repoRoot(), 'packages', 'cli', 'bin', 'nasrl.js'))}`;
}

/** `nasrl train-arch` flags after `--final` that retrain the best architecture of a conv search. */
export function retrainFlags(config: ExperimentConfig, preset = 'small'): string[] {
  const flags = [...convPreset(preset).retrain];
  const at = flags.indexOf('--dataset');
  if (at >= 0) flags[at + 1] = config.training.dataset;
  else flags.unshift('--dataset', config.training.dataset);
  if (config.training.dataDir !== null && !flags.includes('--data-dir')) flags.push('--data-dir', config.training.dataDir);
  // The children's learning rate is the experiment's (the preset's, unless its configuration says otherwise).
  const lr = flags.indexOf('--lr');
  if (lr >= 0) flags[lr + 1] = String(config.training.learningRate);
  return flags.map(shellQuote);
}

/**
 * Takes the output folder for this launcher: refuses it while another launcher runs there, waits for the
 * guard of a killed one to finish, stops a redis-server a killed run left behind, and records this process.
 * Returns the function that gives the folder back.
 */
async function claimRunFolder(setup: LocalSetup, print: (m: string) => void): Promise<() => void> {
  const { out, config } = setup;
  if (!setup.resume && existsSync(path.join(out, 'experiment.json'))) {
    let stored = '?';
    try {
      stored = String((JSON.parse(readFileSync(path.join(out, 'experiment.json'), 'utf8')) as { id?: unknown }).id);
    } catch {
      // Shown as '?'.
    }
    throw new UsageError(`${out} already holds experiment ${stored}: continue it with \`nasrl local --resume ${shownPath(out)}\`, or choose another --out or --id (this one is ${config.id})`);
  }
  const launcher = livePid(path.join(out, 'launcher.pid'), 'node');
  if (launcher !== null) throw new UsageError(`a nasrl local launcher (pid ${launcher}) is running in ${out}; stop it first`);
  const guard = livePid(path.join(out, 'guard.pid'), 'node');
  if (guard !== null) {
    print(`nasrl local: waiting for the guard of the previous launcher (pid ${guard}) to finish its results`);
    if ((await waitForExit([guard], 60_000)).length > 0) throw new Error(`the guard of the previous launcher (pid ${guard}) is still running after 60 s; see ${path.join(out, 'logs', 'guard.log')}`);
  }
  const redis = livePid(path.join(out, 'redis', 'redis.pid'), 'redis-server');
  if (redis !== null) {
    print(`nasrl local: stopping the redis-server (pid ${redis}) a previous launcher left on ${path.join(out, 'redis')}`);
    signalAll([redis], 'SIGTERM');
    if ((await waitForExit([redis], 15_000)).length > 0) signalAll([redis], 'SIGKILL');
  }
  const removeLauncherPid = writePidFile(path.join(out, 'launcher.pid'));
  return () => {
    removeLauncherPid();
    rmSync(path.join(out, 'guard.pid'), { force: true });
  };
}

/**
 * Hands the jobs that the previous run's processes held active (all dead now: this run's Redis was
 * restarted) back to their queues at once, as BullMQ's stalled-job check would after their locks expire:
 * the lock is dropped and the job marked stalled, so the first worker (or step processor) to start moves it
 * back to wait. Only jobs of `experiment` are touched. Returns how many.
 */
async function handBackActiveJobs(store: ExperimentStore, experiment: string): Promise<number> {
  const script = `
local n = 0
for i = 2, #ARGV do
  local q = ARGV[i]
  for _, job in ipairs(redis.call('LRANGE', q .. 'active', 0, -1)) do
    if string.sub(job, 1, #ARGV[1] + 1) == ARGV[1] .. '.' then
      redis.call('DEL', q .. job .. ':lock')
      redis.call('SADD', q .. 'stalled', job)
      n = n + 1
    end
  end
  redis.call('DEL', q .. 'stalled-check')
end
return n`;
  const queues = [CHILDREN_QUEUE, STEPS_QUEUE].map((q) => `${DEFAULT_QUEUE_PREFIX}:${q}:`);
  return Number(await store.redis.eval(script, 0, experiment, ...queues));
}

/** Brings results.jsonl up to date with the store; pauses Redis writes first when the run owns Redis (nothing can land after). */
async function finalResults(store: ExperimentStore, id: string, output: RunOutput, ownRedis: boolean): Promise<{ appended: number; dropped: number } | null> {
  if (ownRedis) await within(store.redis.call('CLIENT', 'PAUSE', '60000', 'WRITE'), 5_000, null);
  const all = await within(store.results(id), 30_000, null);
  return all === null ? null : output.reconcile(all.map(resultLine));
}

/** What a finished local run hands to `afterRun`, before Redis is stopped. */
export interface LocalRunContext {
  readonly store: ExperimentStore;
  readonly redisUrl: string;
  /** From the start of the controllers until the last one exited. */
  readonly wallMs: number;
}

/**
 * Starts Redis (unless REDIS_URL is set), the shards, workers and controllers of `setup` as processes, and
 * follows the search into the output folder (results.jsonl, best.json, report.html) until every controller
 * has exited (budget spent) or the user interrupts; then stops the services, runs `afterRun` (finished runs
 * only), brings the output up to date with the store and stops Redis. A guard process finishes the same
 * work if this process is killed. Returns the exit code: 0, 1 (a service failed) or 130 (interrupted).
 */
export async function runLocalCluster(setup: LocalSetup, afterRun?: (ctx: LocalRunContext) => Promise<void>): Promise<number> {
  const { config, shards, replicas, workers, out, beforeControllers } = setup;
  const id = config.id;
  if ((setup.workerProcesses ?? workers) < workers && config.evaluator !== 'table') {
    throw new UsageError(`${workers} workers in ${setup.workerProcesses} processes would evaluate several children per process, which only table experiments (simulated children) allow; experiment ${id} trains its children: one worker process each`);
  }
  const resume = setup.resume ?? false;
  const screen = new Screen(setup.progress ?? true);
  mkdirSync(out, { recursive: true });
  const launch = readLaunchRecord(out);
  const ownRedis = resume ? launch.redis === 'own' : !process.env.REDIS_URL;
  if (resume && ownRedis && process.env.REDIS_URL) throw new UsageError(`this run keeps its Redis data in ${path.join(out, 'redis')}; unset REDIS_URL to resume it`);
  if (resume && !ownRedis && !process.env.REDIS_URL) throw new UsageError('this run used the Redis of REDIS_URL; set REDIS_URL to that Redis to resume it');
  const releaseFolder = await claimRunFolder(setup, (m) => screen.print(m));
  // Every process of the run carries the folder in its environment (it names the run's processes to `ps e`).
  const guard: Guard = startGuard(__filename, 'guardMain', path.join(out, 'logs', 'guard.log'), { NASRL_LOCAL_RUN_DIR: out });
  writeFileSync(path.join(out, 'guard.pid'), `${guard.pid}\n`);
  // Services stop themselves when the launcher is gone, unless the guard is there to stop them in order.
  const marker = { NASRL_LOCAL_RUN_DIR: out, NASRL_LOCAL_GUARD_PID: String(guard.pid) };
  const abort = new AbortController();
  const interrupts = new Interrupts((count) => {
    if (count === 1) screen.print('nasrl local: stopping: services first, then Redis; results are kept (Ctrl-C again stops at once)', process.stderr);
    if (count === 2) screen.print('nasrl local: stopping at once', process.stderr);
    abort.abort();
  });
  // The guard stops controllers and workers first, then the shards (as stopServices does).
  const cluster = new LocalCluster({
    dir: out, env: marker, signal: abort.signal, onServiceLine: setup.onServiceLine, onServiceStarted: (s, stage) => guard.tell({ pid: s.child.pid, stage }),
  });
  const stopServices = async (): Promise<void> => {
    interrupts.onForce(() => cluster.kill());
    await cluster.stopServices();
  };
  let store: ExperimentStore | undefined;
  let output: RunOutput | undefined;
  let code = 1;
  try {
    let redisUrl = process.env.REDIS_URL ?? '';
    if (ownRedis) {
      const redis = await cluster.startRedis();
      redisUrl = redis.url;
      guard.tell({ redisPid: redis.pid });
    }
    const connection = connectRedis(redisUrl);
    // Connection errors surface as timeouts of the reads below; ioredis must not print them.
    connection.on('error', () => undefined);
    store = new ExperimentStore(connection);
    if (resume) {
      try {
        await store.get(id);
      } catch {
        throw new Error(`the Redis of this run${ownRedis ? ` (${path.join(out, 'redis')})` : ''} has no experiment ${id}; it cannot be resumed`);
      }
    }
    await store.create(config);
    writeFileSync(path.join(out, 'experiment.json'), JSON.stringify(config, null, 2) + '\n');
    const record: LaunchRecord = { shards, replicas, workers, preset: config.space === 'conv' ? setup.preset ?? 'small' : null, redis: ownRedis ? 'own' : 'external' };
    writeFileSync(path.join(out, 'launch.json'), JSON.stringify(record, null, 2) + '\n');
    guard.tell({ run: { id, out, redisUrl, ownRedis, resumeCommand: `${nasrlCommand()} local --resume ${shownPath(out)}` } });
    output = RunOutput.open(out, config);
    const reconciled = output.reconcile((await store.results(id)).map(resultLine));
    let tailFrom = output.results.length;
    const before = output.results.length;
    if (resume) {
      const handedBack = ownRedis ? await handBackActiveJobs(store, id) : 0;
      screen.print(
        `nasrl local: resuming ${id}: ${before} of ${config.budgetArchs} evaluated` +
        (reconciled.appended > 0 ? `; ${reconciled.appended} result(s) the last launcher had not written added to results.jsonl` : '') +
        (reconciled.dropped > 0 ? `; ${reconciled.dropped} line(s) the store does not hold removed from results.jsonl` : '') +
        (handedBack > 0 ? `; ${handedBack} job(s) the stopped processes held are queued again` : ''),
      );
    } else {
      screen.print(`nasrl local: experiment ${id} (${config.space}${setup.preset && config.space === 'conv' ? `, preset ${setup.preset}` : ''}, ${config.budgetArchs} architectures, m=${config.childrenPerStep}) → ${shownPath(out)}`);
    }
    output.writeBest(true);
    output.writeReport({ refreshSeconds: REPORT_EVERY_SECONDS, note: `Running: ${before} of ${config.budgetArchs} evaluated. This page reloads every ${REPORT_EVERY_SECONDS} s.` });

    const addresses = await cluster.startShards(shards, setup.shardEnv);
    await cluster.startWorkers(workers, { redisUrl, processes: setup.workerProcesses });
    await beforeControllers?.({ store, redisUrl });
    const started = Date.now();
    const controllersExited = cluster.startControllers(replicas, { redisUrl, experiment: id, shards: addresses, processes: setup.controllerProcesses });

    // Follow the search: append new results, replace best.json and the report, draw the progress line.
    const space = config.space === 'conv' ? new ConvSpace(config.spaceOptions) : null;
    const rate = new RateMeter();
    let reportAt = Date.now();
    let reportedCount = output.results.length;
    let busy = false;
    const follow = async (): Promise<void> => {
      if (busy || !store || !output) return;
      busy = true;
      try {
        cluster.checkRedis();
        const fresh = await within(store.results(id, tailFrom), 5_000, null);
        if (fresh !== null && fresh.length > 0) {
          output.append(fresh.map(resultLine));
          tailFrom += fresh.length;
          output.writeBest();
        }
        const now = Date.now();
        const evaluated = output.results.length;
        if (evaluated !== reportedCount && now - reportAt >= REPORT_EVERY_SECONDS * 1000) {
          output.writeReport({ refreshSeconds: REPORT_EVERY_SECONDS, note: `Running: ${evaluated} of ${config.budgetArchs} evaluated. This page reloads every ${REPORT_EVERY_SECONDS} s.` });
          reportAt = now;
          reportedCount = evaluated;
        }
        rate.add(now, evaluated);
        const sampled = space ? await within(store.sampled(id), 2_000, null) : null;
        screen.progress(progressLine({
          space: config.space, evaluated, budget: config.budgetArchs, perMinute: rate.perMinute(), bestAccuracy: output.bestAccuracy(),
          depth: space && sampled !== null ? space.depthAfter(sampled) : null,
        }));
      } finally {
        busy = false;
      }
    };
    const ticker = setInterval(() => void follow(), 500);
    const outcome = await Promise.race([
      controllersExited.then(() => 'done' as const),
      interrupts.first,
      cluster.failed.then((failed) => ({ failed })),
    ]);
    const wallMs = Date.now() - started;
    clearInterval(ticker);
    while (busy) await new Promise((r) => setTimeout(r, 20));
    await follow();
    screen.end();
    if (isRecord(outcome)) screen.print(`nasrl local: ${outcome.failed}`, process.stderr);
    await stopServices();
    if (outcome === 'done') await afterRun?.({ store, redisUrl, wallMs });
    code = outcome === 'done' ? 0 : outcome === 'interrupted' ? 130 : 1;
  } catch (err) {
    if (!(err instanceof StartupInterruptedError)) throw err;
    screen.end();
    code = 130;
  } finally {
    await stopServices();
    if (store && output) {
      const last = cluster.redisExited() ? null : await finalResults(store, id, output, ownRedis);
      output.writeBest(true);
      const finished = code === 0;
      output.writeReport(finished ? {} : { note: `Stopped after ${output.results.length} of ${config.budgetArchs} evaluations; continue with: ${nasrlCommand()} local --resume ${shownPath(out)}` });
      if (last === null) screen.print('nasrl local: could not read the final results from Redis; results.jsonl has those that arrived until then', process.stderr);
      printSummary(setup, output, finished);
    }
    store?.redis.disconnect();
    await cluster.stopRedis();
    guard.release();
    releaseFolder();
    interrupts.dispose();
  }
  return code;
}

function printSummary(setup: LocalSetup, output: RunOutput, finished: boolean): void {
  const { config, out } = setup;
  const best = output.best();
  const lines = [
    finished
      ? `nasrl local: ${output.results.length} of ${config.budgetArchs} architectures evaluated: ${shownPath(path.join(out, 'results.jsonl'))}`
      : `nasrl local: stopped after ${output.results.length} of ${config.budgetArchs} architectures; what was evaluated is in ${shownPath(path.join(out, 'results.jsonl'))}`,
  ];
  if (best) {
    const measure = config.space === 'rnn' ? `best validation ${formatAccuracy(config.space, best.accuracy as number)}` : `best validation accuracy ${formatAccuracy(config.space, best.accuracy as number)}`;
    lines.push(`  ${measure} (reward ${Number(best.reward).toFixed(4)}): ${shownPath(path.join(out, 'best.json'))}`);
  }
  lines.push(`  report: ${shownPath(path.join(out, 'report.html'))}`);
  if (!finished) lines.push(`  continue this run: ${nasrlCommand()} local --resume ${shownPath(out)}`);
  if (best && config.space === 'conv') {
    lines.push(`  retrain the best architecture: ${nasrlCommand()} train-arch ${shownPath(path.join(out, 'best.json'))} --final ${retrainFlags(config, setup.preset).join(' ')}`);
  }
  if (best && config.space === 'rnn') {
    lines.push(`  train the best cell again: ${nasrlCommand()} train-arch ${shownPath(path.join(out, 'best.json'))} ${rnnRetrainFlags(config).map(shellQuote).join(' ')}`);
  }
  console.log(lines.join('\n'));
}

/**
 * Entry of the guard process of a local run (started by runLocalCluster with startGuard). When the launcher
 * is killed, the guard stops the run's services, brings results.jsonl, best.json and report.html up to date
 * with the store (Redis writes paused first, so every result the store will ever hold for this run is in
 * results.jsonl), and stops the run's redis-server.
 */
export function guardMain(): void {
  void runGuard(async ({ run }, log) => {
    if (run === null || typeof run.out !== 'string' || typeof run.id !== 'string' || typeof run.redisUrl !== 'string') return;
    const out = run.out;
    const connection = connectRedis(run.redisUrl);
    connection.on('error', () => undefined);
    try {
      const store = new ExperimentStore(connection);
      const config = await within(store.get(run.id), 10_000, null);
      if (config === null) throw new Error(`could not read experiment ${run.id} from ${run.redisUrl}`);
      const output = RunOutput.open(out, config);
      const r = await finalResults(store, run.id, output, run.ownRedis === true);
      output.writeBest(true);
      const resume = typeof run.resumeCommand === 'string' ? run.resumeCommand : `nasrl local --resume ${out}`;
      output.writeReport({ note: `Stopped (the launcher ended) after ${output.results.length} of ${config.budgetArchs} evaluations; continue with: ${resume}` });
      log('results_written', { evaluations: output.results.length, appended: r?.appended ?? null, dropped: r?.dropped ?? null });
    } finally {
      connection.disconnect();
      rmSync(path.join(out, 'guard.pid'), { force: true });
    }
  });
}

/** `nasrl local`: the whole cluster as local processes. */
export async function localCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(LOCAL_USAGE);
    return 0;
  }
  // `nasrl local | tee log` and Ctrl-C: tee is gone before the launcher has written its last lines.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  return runLocalCluster(localExperiment(argv));
}
