import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { FlowProducer, Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CHILDREN_QUEUE, STEPS_QUEUE, ExperimentStore, connectRedis, startRedisServer, type TestRedisServer } from '@nasrl/queue';

/** A worker service process started by a test, with its JSON log lines. */
export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first log record (already seen or future) that `match` accepts. */
  waitFor(match: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts services/worker/dist/src/main.js with the given NASRL_WORKER_* values (and nothing else of the kind). */
export function startWorker(id: string, env: Record<string, string>): WorkerProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NASRL_WORKER_')));
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'src', 'main.js')], {
    env: { ...base, NASRL_WORKER_ID: id, NASRL_WORKER_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(record);
    for (const w of [...waiters]) {
      if (w.match(record)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(record);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    id, child, lines, exited,
    waitFor(match, timeoutMs = 20_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${id}: no matching log line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}; lines: ${JSON.stringify(lines.slice(-10))}`)), timeoutMs);
        waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET of a path on host:port: the status and body. */
export function httpGet(address: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}${urlPath}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** A redis-server, worker processes and queues of a test file, all stopped after its tests. */
export interface WorkerFixture {
  readonly server: TestRedisServer;
  readonly redis: Redis;
  readonly store: ExperimentStore;
  /** A temporary folder for the file's tables, removed after its tests. */
  readonly dir: string;
  /** Starts a worker on `prefix` with the fixture's settings and `extra` on top; killed after the tests if still running. */
  spawnWorker(prefix: string, extra?: Record<string, string>): WorkerProcess;
  /** The flow producer and queues of `prefix`, closed after the tests. */
  queues(prefix: string): { flow: FlowProducer; children: Queue; steps: Queue };
}

/** Registers before/after hooks that start and stop the fixture; read its fields inside tests only. */
export function workerFixture(settings: Record<string, string>): WorkerFixture {
  const workers: WorkerProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const f = {} as { server: TestRedisServer; redis: Redis; store: ExperimentStore; dir: string };
  before(async () => {
    f.server = await startRedisServer();
    f.redis = connectRedis(f.server.url);
    f.store = new ExperimentStore(f.redis);
    f.dir = mkdtempSync(path.join(tmpdir(), 'nasrl-worker-'));
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const close of closers.reverse()) await close();
    f.redis.disconnect();
    await f.server.stop();
    rmSync(f.dir, { recursive: true, force: true });
  });
  return {
    get server() { return f.server; },
    get redis() { return f.redis; },
    get store() { return f.store; },
    get dir() { return f.dir; },
    spawnWorker(prefix, extra = {}) {
      const w = startWorker(`test-${randomUUID().slice(0, 6)}`, { REDIS_URL: f.server.url, NASRL_WORKER_QUEUE_PREFIX: prefix, ...settings, ...extra });
      workers.push(w);
      return w;
    },
    queues(prefix) {
      const flow = new FlowProducer({ connection: f.redis, prefix });
      const children = new Queue(CHILDREN_QUEUE, { connection: f.redis, prefix });
      const steps = new Queue(STEPS_QUEUE, { connection: f.redis, prefix });
      closers.push(() => flow.close(), () => children.close(), () => steps.close());
      return { flow, children, steps };
    },
  };
}

/** Waits until the step job `id` is ready (its children done) and returns it. */
export async function parentReady(steps: Queue, id: string, timeoutMs = 30_000): Promise<Job> {
  await until(async () => ((await steps.getJobState(id)) === 'waiting' ? true : undefined), `parent ${id} to become ready`, timeoutMs);
  return (await Job.fromId(steps, id)) as Job;
}
