import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { CHILDREN_QUEUE, connectRedis, parseExperimentConfig } from '@nasrl/queue';
import { intFlag, numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { runLocalCluster } from './local';

/** What `nasrl bench cluster --help` prints. */
export const BENCH_CLUSTER_USAGE = `usage: nasrl bench cluster [--archs N] [--workers W] [--replicas K] [--children M] [--shards S] [--child-ms MS]
                           [--out DIR] [--json]

The cluster's own cost, measured on local processes (its own redis-server unless REDIS_URL is set,
parameter-server shards, controller replicas, workers) searching a table space of 6⁴ architectures with
reuse off. Two runs: zero-time children give the orchestration overhead per architecture (enqueue → result,
p50 and p99) and architectures per second; children that take --child-ms each give the workers' utilisation
(busy time / (workers × span)).
  --archs N          architectures per run (default 400)
  --workers W        worker processes (default 4)
  --replicas K       controller replicas (default 4); --children M: architectures per step (default 4)
  --shards S         parameter-server shards (default 2)
  --child-ms MS      simulated training time of a child in the second run (default 200)
  --out DIR          where the runs' logs and results go (default a folder under the system's temp folder)
  --json             also print one JSON line: {"zeroTime": {...}, "simulated": {...}}
  --help             print this and exit`;

/** Timing of one child job, from BullMQ's own timestamps (ms since the epoch). */
interface ChildTiming {
  readonly enqueued: number;
  readonly started: number;
  readonly finished: number;
}

/** Percentile (nearest rank) of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** A table space of 6⁴ architectures, every evaluation 1 simulated second, rewards a smooth function of the tokens. */
function writeUniformTable(file: string): void {
  const choices = ['0', '1', '2', '3', '4', '5'];
  const entries = [];
  for (let code = 0; code < 6 ** 4; code++) {
    const t = [code % 6, Math.floor(code / 6) % 6, Math.floor(code / 36) % 6, Math.floor(code / 216) % 6];
    entries.push({ tokens: t.map(String), reward: 0.5 + 0.02 * t.reduce((a, b) => a + b, 0), seconds: 1 });
  }
  writeFileSync(file, JSON.stringify({ name: 'uniform-cost', tokens: ['a', 'b', 'c', 'd'].map((name) => ({ name, choices })), entries }));
}

async function measure(label: string, childMs: number, o: { archs: number; workers: number; replicas: number; children: number; shards: number; dir: string }) {
  const table = path.join(o.dir, 'uniform-cost.json');
  writeUniformTable(table);
  const id = `bench-${label}-${Date.now()}`;
  const config = parseExperimentConfig({
    id, space: 'table', tablePath: table, budgetArchs: o.archs, childrenPerStep: o.children, learningRate: 0.02,
    reuseEvaluations: false, timeScale: childMs / 1000,
  });
  let timings: ChildTiming[] = [];
  let wallMs = 0;
  const code = await runLocalCluster({ config, shards: o.shards, replicas: o.replicas, workers: o.workers, out: path.join(o.dir, label), progress: false }, async (ctx) => {
    wallMs = ctx.wallMs;
    const connection = connectRedis(ctx.redisUrl);
    const queue = new Queue(CHILDREN_QUEUE, { connection });
    try {
      const jobs = await queue.getJobs(['completed'], 0, -1);
      timings = jobs
        .filter((j) => j.id?.startsWith(`${id}.`) && j.processedOn !== undefined && j.finishedOn !== undefined)
        .map((j) => ({ enqueued: j.timestamp, started: j.processedOn as number, finished: j.finishedOn as number }));
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
  if (code !== 0) throw new Error(`the ${label} run failed (exit ${code}); logs in ${path.join(o.dir, label, 'logs')}`);
  const overhead = timings.map((t) => t.finished - t.enqueued - childMs).sort((a, b) => a - b);
  const busy = timings.reduce((a, t) => a + (t.finished - t.started), 0);
  const span = Math.max(...timings.map((t) => t.finished)) - Math.min(...timings.map((t) => t.started));
  return {
    childMs,
    architectures: timings.length,
    wallSeconds: wallMs / 1000,
    architecturesPerSecond: timings.length / (wallMs / 1000),
    overheadMsP50: percentile(overhead, 50),
    overheadMsP99: percentile(overhead, 99),
    workerUtilisation: busy / (o.workers * span),
  };
}

/**
 * `nasrl bench cluster`: the cluster's own cost, measured on local processes. With zero-time children it
 * reports the per-architecture orchestration overhead (enqueue → result, BullMQ timestamps) and the
 * architectures per second; with simulated children of --child-ms it reports the workers' utilisation
 * (busy time / (workers × span)).
 */
export async function benchClusterCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_CLUSTER_USAGE);
    return 0;
  }
  const args = parseArgs(argv, ['archs', 'workers', 'replicas', 'children', 'shards', 'child-ms', 'out'], ['json']);
  if (args.positional.length > 0) throw new UsageError(`nasrl bench cluster takes no arguments, got ${JSON.stringify(args.positional[0])}`);
  const o = {
    archs: intFlag(args, 'archs', 400, 1),
    workers: intFlag(args, 'workers', 4, 1, 64),
    replicas: intFlag(args, 'replicas', 4, 1, 64),
    children: intFlag(args, 'children', 4, 1, 256),
    shards: intFlag(args, 'shards', 2, 1, 16),
    dir: path.resolve(stringFlag(args, 'out', path.join(tmpdir(), `nasrl-bench-cluster-${process.pid}`))),
  };
  mkdirSync(o.dir, { recursive: true });
  const childMs = numberFlag(args, 'child-ms', 200, 1);
  const zero = await measure('zero', 0, o);
  const simulated = await measure('simulated', childMs, o);
  const report = { zeroTime: zero, simulated };
  console.log(`zero-time children: ${zero.architecturesPerSecond.toFixed(1)} architectures/s; orchestration overhead per architecture p50 ${zero.overheadMsP50} ms, p99 ${zero.overheadMsP99} ms`);
  console.log(`${childMs} ms children: worker utilisation ${(100 * simulated.workerUtilisation).toFixed(1)}% (${o.workers} workers, ${o.replicas} replicas × ${o.children} children)`);
  if (switchFlag(args, 'json')) console.log(JSON.stringify(report));
  return 0;
}
