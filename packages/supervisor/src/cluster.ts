import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startRedisServer, type TestRedisServer } from '@nasrl/queue';
import { ServiceFailedError, StartupInterruptedError } from './errors';
import { isAlive } from './pids';
import { ensureRedisServer } from './redis';
import { startService, waitForAll, type ServiceProcess } from './service';

/** How long a worker may finish its active child when stopped before it is abandoned (evaluated again later), in ms. */
export const WORKER_SHUTDOWN_GRACE_MS = 10_000;

/** How long a shard may take for its final checkpoint when stopped, in ms. */
const SHARD_SHUTDOWN_GRACE_MS = 10_000;

/**
 * A group of the same kind fails to start only when none of those still starting progressed for this long:
 * hundreds of processes starting on a few cores take as long as they take.
 */
const STARTUP_STALL_MS = 60_000;

/** What a service is; also its job name in prometheus.yml (as in deploy/prometheus). */
export type ServiceRole = 'param-server' | 'controller' | 'worker';

/**
 * The stop stage of each role: stage 0 (controllers and workers: no new steps, no new results) stops before
 * stage 1 (the shards, which take their final checkpoint). A guard (runGuard) is told the same stages.
 */
export const STOP_STAGE: Readonly<Record<ServiceRole, number>> = { controller: 0, worker: 0, 'param-server': 1 };

const ENTRY: Readonly<Record<ServiceRole, string>> = {
  'param-server': 'services/param-server/dist/src/main.js',
  worker: 'services/worker/dist/src/main.js',
  controller: 'services/controller/dist/src/main.js',
};

/** Options of LocalCluster. */
export interface LocalClusterOptions {
  /**
   * The run's folder: Redis keeps its data in `redis/`, shard S its checkpoints in `checkpoints/shard-S/`,
   * every service its output in `logs/NAME.log`, and `prometheus.yml` names every metrics endpoint.
   */
  readonly dir: string;
  /** Added to the environment of every process, Redis included (markers naming the run, for example). Default none. */
  readonly env?: Readonly<Record<string, string>>;
  /** Told every JSON log line of every service. */
  readonly onServiceLine?: (service: string, line: Record<string, unknown>) => void;
  /** Told each service as it starts, with its stop stage (STOP_STAGE). */
  readonly onServiceStarted?: (service: ServiceProcess, stage: number) => void;
  /** When it aborts, a start method still waiting for its services throws StartupInterruptedError. */
  readonly signal?: AbortSignal;
}

/** Options of LocalCluster.startWorkers. */
export interface WorkerOptions {
  readonly redisUrl: string;
  /**
   * Processes the workers are spread over: fewer than the workers makes each evaluate several simulated
   * children (NASRL_WORKER_CHILDREN), which only table experiments allow. Default: a process per worker.
   */
  readonly processes?: number;
}

/** Options of LocalCluster.startControllers. */
export interface ControllerOptions {
  readonly redisUrl: string;
  /** The experiment's id. */
  readonly experiment: string;
  /** The shards' addresses, in shard order (what startShards returned). */
  readonly shards: readonly string[];
  /**
   * Processes the replicas are spread over, in contiguous ranges of indices (NASRL_CONTROLLER_REPLICAS).
   * Default: a process per replica.
   */
  readonly processes?: number;
}

/** Splits `n` participants over `processes` as evenly as possible: the first index and the count of each process. */
export function spread(n: number, processes: number): { first: number; count: number }[] {
  const p = Math.max(1, Math.min(n, processes));
  return Array.from({ length: p }, (_, i) => {
    const first = Math.floor((i * n) / p);
    return { first, count: Math.floor(((i + 1) * n) / p) - first };
  });
}

/**
 * A cluster on this machine: its own redis-server, parameter-server shards, workers and controllers as child
 * processes started from the services' compiled entry points, each in a session of its own (the terminal's
 * Ctrl-C reaches only the launcher) and stopping itself when the launcher is gone. Start in this order:
 * Redis (or use REDIS_URL), shards, workers, controllers; stop with stopServices (controllers and workers,
 * then the shards), then, once the launcher's own Redis clients are closed, stopRedis.
 */
export class LocalCluster {
  /** Resolves with what went wrong when a service exits unexpectedly (never while the services run as they should). */
  readonly failed: Promise<string>;
  private fail: (reason: string) => void = () => undefined;
  private readonly interrupted: Promise<void>;
  private readonly services: { readonly process: ServiceProcess; readonly role: ServiceRole }[] = [];
  private readonly targets: Record<ServiceRole, string[]> = { 'param-server': [], controller: [], worker: [] };
  private redis: TestRedisServer | undefined;
  private stopping = false;
  private forced = false;

  constructor(private readonly options: LocalClusterOptions) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
    const signal = options.signal;
    this.interrupted = new Promise((resolve) => {
      if (signal?.aborted) resolve();
      else signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * Starts a redis-server of the cluster's own, keeping its data (append-only file) in `<dir>/redis`; installs
   * redis-server with apt-get when it is missing and this process may.
   */
  async startRedis(): Promise<{ readonly url: string; readonly pid: number }> {
    ensureRedisServer();
    this.redis = await startRedisServer({ dataDir: path.join(this.options.dir, 'redis'), detached: true, env: { ...process.env, ...this.options.env } });
    return { url: this.redis.url, pid: this.redis.pid };
  }

  /** Starts `count` shards on free loopback ports and waits until each listens; returns their addresses in shard order. */
  async startShards(count: number, env: Readonly<Record<string, string>> = {}): Promise<string[]> {
    const shards: ServiceProcess[] = [];
    for (let s = 0; s < count; s++) {
      shards.push(this.launch(`shard ${s}`, 'param-server', {
        NASRL_PS_SHARD_INDEX: String(s),
        NASRL_PS_SHARD_COUNT: String(count),
        NASRL_PS_HOST: '127.0.0.1',
        NASRL_PS_PORT: '0',
        NASRL_PS_CHECKPOINT_DIR: path.join(this.options.dir, 'checkpoints', `shard-${s}`),
        // Often: a killed run continued with --resume loses at most these updates of the controller.
        NASRL_PS_CHECKPOINT_EVERY_UPDATES: '10',
        NASRL_PS_CHECKPOINT_INTERVAL_MS: '5000',
        NASRL_PS_METRICS_HOST: '127.0.0.1',
        NASRL_PS_METRICS_PORT: '0',
        ...env,
      }));
    }
    return (await this.startup(waitForAll(shards, 'listening', STARTUP_STALL_MS))).map((line) => String(line.address));
  }

  /** Starts `count` workers and waits until each is ready to take children. */
  async startWorkers(count: number, o: WorkerOptions): Promise<void> {
    const workers: ServiceProcess[] = [];
    const hosts = spread(count, o.processes ?? count);
    for (const [w, { first, count: children }] of hosts.entries()) {
      workers.push(this.launch(`worker ${w}`, 'worker', {
        REDIS_URL: o.redisUrl,
        NASRL_WORKER_ID: hosts.length === count ? `worker-${w}` : `workers-${first}-${first + children - 1}`,
        NASRL_WORKER_CHILDREN: String(children),
        NASRL_WORKER_SHUTDOWN_GRACE_MS: String(WORKER_SHUTDOWN_GRACE_MS),
        // A child whose worker was killed is evaluated again; allow that for a few kills and resumes.
        NASRL_WORKER_MAX_STALLED_COUNT: '5',
        NASRL_WORKER_METRICS_HOST: '127.0.0.1',
        NASRL_WORKER_METRICS_PORT: '0',
      }));
    }
    await this.startup(waitForAll(workers, 'ready', STARTUP_STALL_MS));
  }

  /**
   * Starts `replicas` controller replicas of the experiment now; resolves once every controller process has
   * exited, which they do when the experiment's budget is spent.
   */
  startControllers(replicas: number, o: ControllerOptions): Promise<void> {
    const controllers: ServiceProcess[] = [];
    for (const [c, { first, count }] of spread(replicas, o.processes ?? replicas).entries()) {
      controllers.push(this.launch(`controller ${c}`, 'controller', {
        REDIS_URL: o.redisUrl,
        NASRL_CONTROLLER_EXPERIMENT: o.experiment,
        ...(count === 1 ? { NASRL_CONTROLLER_REPLICA: String(first) } : { NASRL_CONTROLLER_REPLICAS: `${first}-${first + count - 1}` }),
        NASRL_CONTROLLER_PS_SHARDS: o.shards.join(','),
        NASRL_CONTROLLER_EXIT_WHEN_DONE: 'true',
        NASRL_CONTROLLER_METRICS_HOST: '127.0.0.1',
        NASRL_CONTROLLER_METRICS_PORT: '0',
      }));
    }
    return Promise.all(controllers.map((c) => c.exited)).then(() => undefined);
  }

  /** Whether the cluster's own redis-server was started and has exited since. */
  redisExited(): boolean {
    return this.redis !== undefined && !isAlive(this.redis.pid);
  }

  /** Reports a failure (see `failed`) when the cluster's own redis-server has exited. */
  checkRedis(): void {
    if (this.redis && this.redisExited()) this.fail(`redis-server (pid ${this.redis.pid}) exited; its log: ${path.join(this.options.dir, 'redis', 'redis.log')}`);
  }

  /**
   * Stops every service: controllers and workers first (no new steps, no new results; a worker may finish its
   * child), the shards last (their final checkpoint); SIGKILL for those that outlast their grace. After
   * `kill()` every service still running is killed at once. Safe to call twice.
   */
  async stopServices(): Promise<void> {
    this.stopping = true;
    const stop = (stage: number, graceMs: number): Promise<unknown> =>
      Promise.all(this.services.filter((s) => STOP_STAGE[s.role] === stage).map((s) => (this.forced ? s.process.kill() : s.process.stop(graceMs))));
    await stop(0, WORKER_SHUTDOWN_GRACE_MS + 5_000);
    await stop(1, SHARD_SHUTDOWN_GRACE_MS);
  }

  /** SIGKILL to every service now (a second Ctrl-C); a stopServices under way finishes at once. */
  kill(): void {
    this.forced = true;
    for (const s of this.services) void s.process.kill();
  }

  /** Stops the cluster's own redis-server (SIGTERM: it flushes its append-only file); call it after stopServices. */
  async stopRedis(): Promise<void> {
    await this.redis?.stop();
  }

  private launch(name: string, role: ServiceRole, env: Record<string, string>): ServiceProcess {
    const onLine = this.options.onServiceLine;
    const metrics = (line: Record<string, unknown>): void => this.metricsListening(role, line);
    const logFile = path.join(this.options.dir, 'logs', `${name.replace(' ', '-')}.log`);
    const s = startService(name, ENTRY[role], { ...this.options.env, ...env }, logFile, onLine ? (line) => (metrics(line), onLine(name, line)) : metrics, { detached: true });
    this.services.push({ process: s, role });
    this.options.onServiceStarted?.(s, STOP_STAGE[role]);
    // Controllers exit 0 when the budget is spent; any other exit before stopServices is a failure.
    const mayExit = role === 'controller';
    void s.exited.then((exitCode) => {
      if (this.stopping || (mayExit && exitCode === 0)) return;
      this.fail(`${name} exited with code ${exitCode}; its last output:\n${s.lastLines().slice(-15).join('\n')}`);
    });
    return s;
  }

  /** A startup wait that ends early when the signal aborts or a service fails. */
  private async startup<T>(p: Promise<T>): Promise<T> {
    const r = await Promise.race([p.then((value) => ({ value })), this.interrupted.then(() => 'interrupted' as const), this.failed.then((failed) => ({ failed }))]);
    if (r === 'interrupted') throw new StartupInterruptedError();
    if ('failed' in r) throw new ServiceFailedError(r.failed);
    return r.value;
  }

  private metricsListening(role: ServiceRole, line: Record<string, unknown>): void {
    if (line.event !== 'metrics_listening' || typeof line.address !== 'string') return;
    this.targets[role].push(line.address);
    writePrometheusConfig(this.options.dir, this.targets);
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
