import { Queue } from 'bullmq';
import { CHILDREN_QUEUE, connectRedis, DEFAULT_QUEUE_PREFIX, ExperimentStore, QUEUE_PREFIX_PATTERN, STEPS_QUEUE, type StoredEvaluation } from '@nasrl/queue';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';
import { exportResults, formatAccuracy, formatDuration, resultLine } from './local';

const REDIS_HELP = 'Redis comes from --redis URL or REDIS_URL (default redis://127.0.0.1:6379).';

export const STATUS_USAGE = `nasrl status [ID] [--json] [--queue-prefix P] [--redis URL]

Without ID: every experiment in Redis with its evaluated/budget and best validation accuracy. With ID: the
experiment's budget and progress, the best architecture, the time per architecture (mean training seconds of a
child, and the recent wall-clock rate), the baseline, reservations and queue counts. ${REDIS_HELP}`;

export const TOP_USAGE = `nasrl top -k N ID [--json] [--redis URL]

The N best architectures of an experiment by reward. ${REDIS_HELP}`;

export const EXPORT_USAGE = `nasrl export ID --out DIR [--redis URL]

Writes results.jsonl, best.json and report.html of an experiment into DIR. ${REDIS_HELP}`;

/** Results whose recorded times give the recent wall-clock rate. */
const RECENT_RESULTS = 50;

/** What `nasrl status` says about the time an architecture takes. */
export interface ArchitectureTiming {
  /** Mean training (or simulated) seconds of a child, cached results left out; null without any. */
  readonly meanChildSeconds: number | null;
  /** Architectures per minute over the last results, by the times they were recorded; null with fewer than two. */
  readonly recentPerMinute: number | null;
}

/** The time per architecture of `results` (in order of arrival). */
export function architectureTiming(results: readonly StoredEvaluation[]): ArchitectureTiming {
  const trained = results.filter((r) => !r.result.cached && Number.isFinite(r.result.seconds));
  const meanChildSeconds = trained.length === 0 ? null : trained.reduce((a, r) => a + r.result.seconds, 0) / trained.length;
  const recent = results.slice(-RECENT_RESULTS).map((r) => r.recordedAt).filter((t) => Number.isFinite(t));
  const span = recent.length >= 2 ? Math.max(...recent) - Math.min(...recent) : 0;
  return { meanChildSeconds, recentPerMinute: span > 0 ? ((recent.length - 1) * 60_000) / span : null };
}

function bestOf(results: readonly StoredEvaluation[]): StoredEvaluation | undefined {
  return [...results].sort((a, b) => b.result.reward - a.result.reward)[0];
}

async function withStore<T>(redisUrl: string, f: (store: ExperimentStore, url: string) => Promise<T>): Promise<T> {
  const connection = connectRedis(redisUrl);
  connection.on('error', () => undefined);
  try {
    let timer: NodeJS.Timeout | undefined;
    const reached = await Promise.race([connection.ping().then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 5_000)))]);
    clearTimeout(timer);
    if (!reached) {
      throw new Error(`cannot reach Redis at ${redisUrl} within 5 s. ${REDIS_HELP} A finished or stopped \`nasrl local\` run has stopped its own Redis: read its output folder, or continue it with \`nasrl local --resume DIR\``);
    }
    return await f(new ExperimentStore(connection), redisUrl);
  } finally {
    connection.disconnect();
  }
}

function usage(text: string): number {
  console.log(text);
  return 0;
}

function redisOf(flag: string | undefined): string {
  return flag ?? (process.env.REDIS_URL || 'redis://127.0.0.1:6379');
}

/** `nasrl status [ID]`: every experiment, or one experiment's progress and queues. */
export async function statusCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) return usage(STATUS_USAGE);
  const args = parseArgs(argv, ['redis', 'queue-prefix'], ['json']);
  const id = args.positional[0];
  const prefix = stringFlag(args, 'queue-prefix') ?? DEFAULT_QUEUE_PREFIX;
  if (!QUEUE_PREFIX_PATTERN.test(prefix)) throw new UsageError(`--queue-prefix must match [A-Za-z0-9_.-]{1,64}, got '${prefix}'`);
  return withStore(redisOf(stringFlag(args, 'redis')), async (store, url) => {
    if (id === undefined) {
      const ids = await store.list();
      const rows = [];
      for (const e of ids) {
        const results = await store.results(e);
        const config = await store.get(e).catch(() => null);
        const best = bestOf(results);
        rows.push({ experiment: e, evaluated: results.length, budgetArchs: config?.budgetArchs ?? null, bestAccuracy: best?.result.accuracy ?? null, space: config?.space ?? '?' });
      }
      if (args.flags.has('json')) console.log(JSON.stringify(rows));
      else if (rows.length === 0) console.log(`no experiments in ${url}`);
      else for (const r of rows) console.log(`${r.experiment}\t${r.evaluated}/${r.budgetArchs ?? '?'} evaluated\tbest accuracy ${formatAccuracy(r.space, r.bestAccuracy)}`);
      return 0;
    }
    const config = await store.get(id);
    const [count, baseline, sampled, reservations, results] = await Promise.all([
      store.resultCount(id), store.baseline(id), store.sampled(id), store.outstandingReservations(id), store.results(id),
    ]);
    const top = bestOf(results);
    const timing = architectureTiming(results);
    const counts: Record<string, Record<string, number>> = {};
    for (const name of [CHILDREN_QUEUE, STEPS_QUEUE]) {
      const connection = connectRedis(url);
      const q = new Queue(name, { connection, prefix });
      counts[name] = await q.getJobCounts('waiting', 'active', 'waiting-children', 'delayed', 'completed', 'failed');
      await q.close();
      connection.disconnect();
    }
    const status = {
      experiment: id, space: config.space, evaluator: config.evaluator, budgetArchs: config.budgetArchs, sampled, evaluated: count, reservations,
      baseline: baseline.value, bestAccuracy: top?.result.accuracy ?? null, best: top ? resultLine(top) : null, ...timing, queues: counts,
    };
    if (args.flags.has('json')) console.log(JSON.stringify(status));
    else {
      const percent = config.budgetArchs > 0 ? ` (${Math.floor((100 * count) / config.budgetArchs)}%)` : '';
      console.log(`experiment ${id}: ${config.space} space, ${config.evaluator} evaluator`);
      console.log(`  budget ${config.budgetArchs} architectures: evaluated ${count} of ${config.budgetArchs}${percent} (sampled ${sampled}); baseline ${baseline.value.toFixed(4)}`);
      console.log(`  best validation accuracy ${formatAccuracy(config.space, top?.result.accuracy)}`);
      const child = timing.meanChildSeconds === null ? 'no trained child yet' : `${timing.meanChildSeconds.toFixed(1)} s per child on average`;
      const wall = timing.recentPerMinute === null ? '' : `; ${timing.recentPerMinute.toFixed(1)} architectures/min lately (${formatDuration(60 / timing.recentPerMinute)} each, wall clock)`;
      console.log(`  time per architecture: ${child}${wall}`);
      // Steps whose architectures are reserved but not enqueued yet: normal for a moment, or left by a replica
      // that died, until it restarts or another replica takes them over.
      if (reservations.length > 0) console.log(`  reserved, not yet enqueued: ${reservations.join(', ')}`);
      if (top) console.log(`  best architecture (reward ${top.result.reward.toFixed(4)}): ${top.archKey}`);
      for (const [name, c] of Object.entries(counts)) console.log(`  ${name}: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    return 0;
  });
}

/** `nasrl top -k N ID`: the N best architectures by reward. */
export async function topCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) return usage(TOP_USAGE);
  const args = parseArgs(argv.map((a) => (a === '-k' ? '--k' : a)), ['k', 'redis'], ['json']);
  const id = args.positional[0];
  if (!id) throw new UsageError(`nasrl top needs an experiment id: nasrl top -k N ID. ${REDIS_HELP}`);
  const k = intFlag(args, 'k', 10, 1, 10_000);
  return withStore(redisOf(stringFlag(args, 'redis')), async (store) => {
    await store.get(id);
    const best = (await store.results(id)).sort((a, b) => b.result.reward - a.result.reward).slice(0, k);
    if (args.flags.has('json')) console.log(JSON.stringify(best.map(resultLine)));
    else best.forEach((e, i) => console.log(`${String(i + 1).padStart(3)}  reward ${e.result.reward.toFixed(4)}  accuracy ${e.result.accuracy.toFixed(4)}  ${e.archKey}`));
    return 0;
  });
}

/** `nasrl export ID --out DIR`: results.jsonl and best.json of an experiment. */
export async function exportCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) return usage(EXPORT_USAGE);
  const args = parseArgs(argv, ['out', 'redis']);
  const id = args.positional[0];
  const out = stringFlag(args, 'out');
  if (!id || !out) throw new UsageError(`nasrl export needs an experiment id and --out DIR. ${REDIS_HELP}`);
  return withStore(redisOf(stringFlag(args, 'redis')), async (store) => {
    await store.get(id);
    const n = await exportResults(store, id, out);
    console.log(`${n} evaluations written to ${out}`);
    return 0;
  });
}

export const STOP_USAGE = `nasrl stop ID [--redis URL]

Stops an experiment for good: controller replicas reserve no more architectures and leave once their pending
steps are done (which push nothing), workers cancel its children being evaluated (within a second, by
NASRL_WORKER_CANCEL_CHECK_MS) and refuse its waiting ones. Its results stay in Redis for status, top and export.
${REDIS_HELP}`;

/** `nasrl stop ID`: stops an experiment's controllers and the evaluation of its children. */
export async function stopCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) return usage(STOP_USAGE);
  const args = parseArgs(argv, ['redis']);
  const id = args.positional[0];
  if (!id || args.positional.length > 1) throw new UsageError(`nasrl stop needs exactly one experiment id. ${REDIS_HELP}`);
  return withStore(redisOf(stringFlag(args, 'redis')), async (store) => {
    const now = await store.stop(id);
    console.log(now ? `stopped experiment ${id}: workers cancel its children, controllers leave after their pending steps` : `experiment ${id} was already stopped`);
    return 0;
  });
}
