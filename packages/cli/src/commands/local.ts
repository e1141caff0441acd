import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { connectRedis, ExperimentStore, parseExperimentConfig, startRedisServer, type ExperimentConfig, type StoredEvaluation } from '@nasrl/queue';
import { intFlag, numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { DEFAULT_NB201_TABLE, tunedReinforce } from '../defaults';
import { ensureRedisServer, startService, type ServiceProcess } from '../processes';
import { writeReport } from '../report';

const VALUED = ['shards', 'replicas', 'children', 'workers', 'budget-archs', 'space', 'dataset', 'data-dir', 'table', 'out', 'id', 'epochs', 'subset', 'lr', 'time-scale'];
const SWITCHES = ['help', 'no-reuse'];

export const LOCAL_USAGE = `nasrl local [--shards S] [--replicas K] [--children M] [--workers W] [--budget-archs N]
            [--space conv|nb201|table] [--dataset fashion-mnist|cifar10|synthetic] [--data-dir DIR]
            [--table PATH] [--epochs N] [--subset N] [--lr X] [--time-scale X] [--out DIR] [--id ID]

Runs the whole cluster on this machine: its own redis-server (unless REDIS_URL is set), S parameter-server
shards, K controller replicas and W workers as separate processes, until N architectures are evaluated.
Writes results.jsonl (one line per evaluated architecture) and best.json into the output folder.`;

/** The experiment a `nasrl local` command line describes. */
export function localExperiment(argv: readonly string[]): { config: ExperimentConfig; shards: number; replicas: number; workers: number; out: string } {
  const args = parseArgs(argv, VALUED, SWITCHES);
  const space = stringFlag(args, 'space', 'conv');
  if (!['conv', 'nb201', 'table'].includes(space)) throw new UsageError(`--space: expected conv, nb201 or table, got "${space}"`);
  const id = stringFlag(args, 'id', `${space}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`);
  const tuned = tunedReinforce(space === 'conv' ? 'table' : 'nb201');
  const reuse = !switchFlag(args, 'no-reuse');
  const common = {
    id,
    space,
    budgetArchs: intFlag(args, 'budget-archs', space === 'conv' ? 200 : 400, 1),
    childrenPerStep: intFlag(args, 'children', space === 'conv' ? 4 : tuned.architecturesPerStep, 1, 1024),
    learningRate: numberFlag(args, 'lr', space === 'conv' ? 0.01 : tuned.learningRate, 0),
    baselineDecay: tuned.baselineDecay,
    entropyWeight: tuned.entropyWeight,
    reuseEvaluations: reuse,
  };
  let raw: Record<string, unknown>;
  if (space === 'conv') {
    raw = {
      ...common,
      rewardScale: 1,
      // Small children, so that the first results arrive within minutes on two cores.
      spaceOptions: { filterCounts: [8, 12, 16, 24], initialLayers: 4, architecturesPerIncrease: 100, layersPerIncrease: 1, maxLayers: 6 },
      training: {
        dataset: stringFlag(args, 'dataset', 'fashion-mnist'),
        dataDir: stringFlag(args, 'data-dir') ?? null,
        subset: intFlag(args, 'subset', 2000, 10),
        epochs: intFlag(args, 'epochs', 2, 1),
        batchSize: 32,
      },
    };
  } else {
    raw = {
      ...common,
      rewardScale: tuned.rewardScale,
      rewardPower: tuned.rewardPower,
      tablePath: path.resolve(stringFlag(args, 'table', DEFAULT_NB201_TABLE)),
      timeScale: numberFlag(args, 'time-scale', 0, 0),
    };
  }
  return {
    config: parseExperimentConfig(raw),
    shards: intFlag(args, 'shards', 2, 1, 64),
    replicas: intFlag(args, 'replicas', 2, 1, 256),
    workers: intFlag(args, 'workers', 2, 1, 256),
    out: path.resolve(stringFlag(args, 'out', path.join('runs', id))),
  };
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
  const results = await store.results(id);
  const lines = results.map(resultLine);
  writeFileSync(path.join(out, 'results.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
  const best = [...lines].sort((a, b) => (b.reward as number) - (a.reward as number)).slice(0, 10);
  writeFileSync(path.join(out, 'best.json'), JSON.stringify({ experiment: id, evaluations: results.length, best: best[0] ?? null, top: best }, null, 2) + '\n');
  writeReport(out, await store.get(id), lines);
  return results.length;
}

/** What `runLocalCluster` starts. */
export interface LocalSetup {
  readonly config: ExperimentConfig;
  readonly shards: number;
  readonly replicas: number;
  readonly workers: number;
  readonly out: string;
  /** Show the live progress line. Default true. */
  readonly progress?: boolean;
}

/** What a finished local run hands to `afterRun`, before the services and Redis are stopped. */
export interface LocalRunContext {
  readonly store: ExperimentStore;
  readonly redisUrl: string;
  /** From the start of the controllers until the last one exited. */
  readonly wallMs: number;
}

/**
 * Starts Redis (unless REDIS_URL is set), the shards, workers and controllers of `setup` as processes, waits
 * until every controller has exited (budget spent) or the user interrupts, writes results.jsonl and best.json,
 * runs `afterRun`, and stops everything. Returns the exit code: 0, 1 (a controller failed) or 130.
 */
export async function runLocalCluster(setup: LocalSetup, afterRun?: (ctx: LocalRunContext) => Promise<void>): Promise<number> {
  const { config, shards, replicas, workers, out } = setup;
  mkdirSync(out, { recursive: true });
  const services: ServiceProcess[] = [];
  let redisStop: (() => Promise<void>) | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    ensureRedisServer();
    const redis = await startRedisServer();
    redisUrl = redis.url;
    redisStop = redis.stop;
  }
  const connection = connectRedis(redisUrl);
  const store = new ExperimentStore(connection);
  let interrupted = false;
  let onInterrupt: () => void = () => undefined;
  const interruptedPromise = new Promise<number>((resolve) => (onInterrupt = () => resolve(-2)));
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(services.map((s) => s.stop()));
    connection.disconnect();
    await redisStop?.();
  };
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    onInterrupt();
    process.stderr.write('\nnasrl: stopping (Ctrl-C again does nothing more; results so far are written)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Every service serves /metrics on a free loopback port; prometheus.yml in the output folder scrapes them.
  const targets: Record<'param-server' | 'controller' | 'worker', string[]> = { 'param-server': [], controller: [], worker: [] };
  const metricsOf = (job: keyof typeof targets) => (line: Record<string, unknown>): void => {
    if (line.event !== 'metrics_listening' || typeof line.address !== 'string') return;
    targets[job].push(line.address);
    writePrometheusConfig(out, targets);
  };
  try {
    await store.create(config);
    console.log(`nasrl local: experiment ${config.id} (${config.space}, ${config.budgetArchs} architectures, m=${config.childrenPerStep}) → ${out}`);
    writeFileSync(path.join(out, 'experiment.json'), JSON.stringify(config, null, 2) + '\n');
    const addresses: string[] = [];
    for (let s = 0; s < shards; s++) {
      const shard = startService(`shard ${s}`, 'services/param-server/dist/src/main.js', {
        NASRL_PS_SHARD_INDEX: String(s),
        NASRL_PS_SHARD_COUNT: String(shards),
        NASRL_PS_HOST: '127.0.0.1',
        NASRL_PS_PORT: '0',
        NASRL_PS_CHECKPOINT_DIR: path.join(out, 'checkpoints', `shard-${s}`),
        NASRL_PS_LEARNING_RATE: String(config.learningRate),
        NASRL_PS_METRICS_HOST: '127.0.0.1',
        NASRL_PS_METRICS_PORT: '0',
      }, path.join(out, 'logs', `shard-${s}.log`), metricsOf('param-server'));
      services.push(shard);
      addresses.push(String((await shard.waitFor('listening', 30_000)).address));
    }
    const workerProcs: ServiceProcess[] = [];
    for (let w = 0; w < workers; w++) {
      const worker = startService(
        `worker ${w}`,
        'services/worker/dist/src/main.js',
        { REDIS_URL: redisUrl, NASRL_WORKER_ID: `worker-${w}`, NASRL_WORKER_METRICS_HOST: '127.0.0.1', NASRL_WORKER_METRICS_PORT: '0' },
        path.join(out, 'logs', `worker-${w}.log`),
        metricsOf('worker'),
      );
      workerProcs.push(worker);
      services.push(worker);
    }
    await Promise.all(workerProcs.map((w) => w.waitFor('ready', 60_000)));
    const controllers: ServiceProcess[] = [];
    const started = Date.now();
    for (let r = 0; r < replicas; r++) {
      const c = startService(`controller ${r}`, 'services/controller/dist/src/main.js', {
        REDIS_URL: redisUrl,
        NASRL_CONTROLLER_EXPERIMENT: config.id,
        NASRL_CONTROLLER_REPLICA: String(r),
        NASRL_CONTROLLER_PS_SHARDS: addresses.join(','),
        NASRL_CONTROLLER_EXIT_WHEN_DONE: 'true',
        NASRL_CONTROLLER_METRICS_HOST: '127.0.0.1',
        NASRL_CONTROLLER_METRICS_PORT: '0',
      }, path.join(out, 'logs', `controller-${r}.log`), metricsOf('controller'));
      controllers.push(c);
      services.push(c);
    }
    const show = setup.progress ?? true;
    const progress = show ? setInterval(() => void showProgress(store, config, started), 1000) : undefined;
    const failed = await Promise.race([
      Promise.all(controllers.map((c) => c.exited)).then((codes) => codes.findIndex((code) => code !== 0)),
      interruptedPromise,
    ]);
    const wallMs = Date.now() - started;
    clearInterval(progress);
    if (show) {
      await showProgress(store, config, started);
      process.stdout.write('\n');
    }
    if (failed >= 0) {
      const c = controllers[failed] as ServiceProcess;
      console.error(`nasrl: ${c.name} failed; its last output:\n${c.lastLines().slice(-15).join('\n')}`);
    }
    const written = await exportResults(store, config.id, out);
    console.log(`nasrl local: ${written} evaluations in ${path.join(out, 'results.jsonl')}; best in ${path.join(out, 'best.json')}`);
    if (failed < 0 && !interrupted) await afterRun?.({ store, redisUrl, wallMs });
    return failed >= 0 ? 1 : interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

/** Writes `prometheus.yml` for the local services' metrics endpoints (job names as in deploy/prometheus). */
function writePrometheusConfig(out: string, targets: Record<string, string[]>): void {
  const jobs = Object.entries(targets)
    .filter(([, t]) => t.length > 0)
    .map(([job, t]) => `  - job_name: ${job}\n    static_configs:\n      - targets: [${t.map((a) => `'${a}'`).join(', ')}]\n`);
  const text = `# Written by nasrl local: scrape this run with \`prometheus --config.file=${path.join(out, 'prometheus.yml')}\`.\nglobal:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('')}`;
  writeFileSync(path.join(out, 'prometheus.yml'), text);
}

/** `nasrl local`: the whole cluster as local processes. */
export async function localCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(LOCAL_USAGE);
    return 0;
  }
  return runLocalCluster(localExperiment(argv));
}

async function showProgress(store: ExperimentStore, config: ExperimentConfig, started: number): Promise<void> {
  const [count, baseline] = await Promise.all([store.resultCount(config.id), store.baseline(config.id)]);
  const seconds = Math.round((Date.now() - started) / 1000);
  const line = `evaluated ${count}/${config.budgetArchs}  baseline ${(baseline.value / (config.rewardScale || 1)).toFixed(3)}  ${seconds}s`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}\x1b[K`);
  else if (seconds % 10 === 0) console.log(line);
}
