/**
 * The supervisor of a nasrl cluster on one machine: Redis, parameter-server shards, workers and controllers
 * as child processes started from the services' compiled entry points, waits until they are ready, and stops
 * them in order (controllers and workers, then the shards, then Redis once its clients are closed). A guard
 * process stops them in the same order when the launcher is killed. `nasrl local` runs on it.
 *
 *   const cluster = new LocalCluster({ dir: 'runs/x', signal: abort.signal });
 *   const { url } = await cluster.startRedis();
 *   const shards = await cluster.startShards(2);
 *   await cluster.startWorkers(2, { redisUrl: url });
 *   await Promise.race([cluster.startControllers(2, { redisUrl: url, experiment: 'x', shards }), cluster.failed]);
 *   await cluster.stopServices();
 *   await cluster.stopRedis();
 */
export {
  LocalCluster, spread, STOP_STAGE, WORKER_SHUTDOWN_GRACE_MS, type ControllerOptions, type LocalClusterOptions, type ServiceRole, type WorkerOptions,
} from './cluster';
export { ServiceFailedError, StartupInterruptedError } from './errors';
export { runGuard, startGuard, type Guard, type GuardedRun } from './guard';
export { isAlive, livePid, signalAll, waitForExit, writePidFile } from './pids';
export { ensureRedisServer } from './redis';
export { repoRoot, startService, waitForAll, type ServiceProcess, type StartServiceOptions } from './service';
