import { Queue } from 'bullmq';
import { CHILDREN_QUEUE, connectRedis, DEFAULT_QUEUE_PREFIX, ExperimentStore, QUEUE_PREFIX_PATTERN, STEPS_QUEUE } from '@nasrl/queue';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';
import { exportResults, resultLine } from './local';

const REDIS_HELP = 'Redis comes from --redis URL or REDIS_URL (default redis://127.0.0.1:6379).';

async function withStore<T>(redisUrl: string, f: (store: ExperimentStore, url: string) => Promise<T>): Promise<T> {
  const connection = connectRedis(redisUrl);
  try {
    return await f(new ExperimentStore(connection), redisUrl);
  } finally {
    connection.disconnect();
  }
}

function redisOf(flag: string | undefined): string {
  return flag ?? (process.env.REDIS_URL || 'redis://127.0.0.1:6379');
}

/** `nasrl status [ID]`: every experiment, or one experiment's progress and queues. */
export async function statusCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['redis', 'queue-prefix'], ['json']);
  const id = args.positional[0];
  const prefix = stringFlag(args, 'queue-prefix') ?? DEFAULT_QUEUE_PREFIX;
  if (!QUEUE_PREFIX_PATTERN.test(prefix)) throw new UsageError(`--queue-prefix must match [A-Za-z0-9_.-]{1,64}, got '${prefix}'`);
  return withStore(redisOf(stringFlag(args, 'redis')), async (store, url) => {
    if (id === undefined) {
      const ids = await store.list();
      if (ids.length === 0) console.log(`no experiments in ${url}`);
      for (const e of ids) console.log(`${e}\t${await store.resultCount(e)} evaluated`);
      return 0;
    }
    const config = await store.get(id);
    const [count, baseline, sampled, reservations] = await Promise.all([store.resultCount(id), store.baseline(id), store.sampled(id), store.outstandingReservations(id)]);
    const top = (await store.results(id)).sort((a, b) => b.result.reward - a.result.reward)[0];
    const counts: Record<string, Record<string, number>> = {};
    for (const name of [CHILDREN_QUEUE, STEPS_QUEUE]) {
      const connection = connectRedis(url);
      const q = new Queue(name, { connection, prefix });
      counts[name] = await q.getJobCounts('waiting', 'active', 'waiting-children', 'delayed', 'completed', 'failed');
      await q.close();
      connection.disconnect();
    }
    const status = { experiment: id, space: config.space, evaluator: config.evaluator, budgetArchs: config.budgetArchs, sampled, evaluated: count, reservations, baseline: baseline.value, best: top ? resultLine(top) : null, queues: counts };
    if (args.flags.has('json')) console.log(JSON.stringify(status));
    else {
      console.log(`experiment ${id}: ${config.space} space, ${config.evaluator} evaluator`);
      console.log(`  evaluated ${count} of ${config.budgetArchs} (sampled ${sampled}); baseline ${baseline.value.toFixed(4)}`);
      // Steps whose architectures are reserved but not enqueued yet: normal for a moment, or left by a replica
      // that died, until it restarts or another replica takes them over.
      if (reservations.length > 0) console.log(`  reserved, not yet enqueued: ${reservations.join(', ')}`);
      if (top) console.log(`  best reward ${top.result.reward.toFixed(4)} (accuracy ${top.result.accuracy.toFixed(4)}): ${top.archKey}`);
      for (const [name, c] of Object.entries(counts)) console.log(`  ${name}: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    return 0;
  });
}

/** `nasrl top -k N ID`: the N best architectures by reward. */
export async function topCommand(argv: string[]): Promise<number> {
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
