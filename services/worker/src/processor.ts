/**
 * The sandboxed processor of child jobs: BullMQ runs this file in a child process of the worker (main.ts), so
 * that long synchronous tensor work never delays the lock renewal done by the parent. The process is reused
 * for later jobs; experiments, datasets and the TensorFlow.js backend stay loaded between them.
 */
import type { SandboxedJob } from 'bullmq';
import { ExperimentStore, connectRedis, type ChildResult } from '@nasrl/queue';
import { ChildProcessor, defaultEvaluators } from './child-processor';
import { parseWorkerEnv } from './config';
import { childJobHandler } from './job-handler';
import { jsonLogger } from './log';

// main.ts validated the same environment and passes its resolved worker id down, so this cannot fail there.
const config = parseWorkerEnv(process.env);
const log = jsonLogger(config.workerId, { sandbox: process.pid });
const redis = connectRedis(config.redisUrl, { name: `${config.workerId}-sandbox` });
const handle = childJobHandler(new ChildProcessor(new ExperimentStore(redis), config.workerId, defaultEvaluators(config.tfBackend, log)), log);

// When the worker process dies (SIGKILL, OOM), stop at once: its job is retried elsewhere once the lock expires,
// and an orphan finishing the same child would only compete with the retry.
process.on('disconnect', () => process.exit(1));
log({ event: 'sandbox_started', pid: process.pid });

/** Evaluates one child job; non-retryable failures become UnrecoverableError so BullMQ does not retry them. */
export default function processChildJob(job: SandboxedJob, token?: string, signal?: AbortSignal): Promise<ChildResult> {
  return handle(job, token, signal);
}
