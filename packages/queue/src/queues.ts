import type { FlowProducer, JobsOptions } from 'bullmq';
import { EvaluationRefusedError, InvalidJobError } from './errors';
import { childJobId, parseChildJob, parseChildResult, parseStepJob, stepJobId, type ChildJob, type ChildResult, type StepJob } from './jobs';

/** The queue of child jobs (architectures to evaluate), consumed by the GPU workers. */
export const CHILDREN_QUEUE = 'nasrl-children';
/** The queue of step (parent) jobs, consumed by controller replicas once all of a step's children are done. */
export const STEPS_QUEUE = 'nasrl-steps';

/** BullMQ's key prefix unless configured otherwise; controllers and workers of one cluster must share it. */
export const DEFAULT_QUEUE_PREFIX = 'bull';
/** What a queue prefix may look like (it becomes part of every BullMQ key). */
export const QUEUE_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Retry and retention policies of enqueueStep. */
export interface EnqueueOptions {
  /** Attempts of a child job, the first included. Default 3. */
  childAttempts?: number;
  /** Delay before a child's first retry in ms, doubled for each further retry. Default 5000. */
  childBackoffMs?: number;
  /** Attempts of a step job (the controller's gradient computation and push). Default 5. */
  stepAttempts?: number;
  /** Delay before a step's first retry in ms, doubled for each further retry. Default 1000. */
  stepBackoffMs?: number;
  /**
   * Completed jobs are kept this long (seconds), so enqueuing the same step again meanwhile creates nothing.
   * A parent reads its children's values from its own hash, so removing completed children loses nothing.
   * Default 86400 (one day).
   */
  keepCompletedSeconds?: number;
  /** Failed jobs are kept this long (seconds) for inspection. Default 604800 (one week). */
  keepFailedSeconds?: number;
}

/** EnqueueOptions with every default filled in. */
export const ENQUEUE_DEFAULTS: Required<EnqueueOptions> = {
  childAttempts: 3,
  childBackoffMs: 5000,
  stepAttempts: 5,
  stepBackoffMs: 1000,
  keepCompletedSeconds: 86_400,
  keepFailedSeconds: 604_800,
};

/** The job ids of an enqueued step. */
export interface EnqueuedStep {
  readonly parentId: string;
  readonly childIds: readonly string[];
}

/** BullMQ options of a step's child jobs. */
export function childJobOptions(experiment: string, stepId: string, index: number, options: EnqueueOptions = {}): JobsOptions {
  const o = { ...ENQUEUE_DEFAULTS, ...options };
  return {
    jobId: childJobId(experiment, stepId, index),
    attempts: o.childAttempts,
    backoff: { type: 'exponential', delay: o.childBackoffMs },
    removeOnComplete: { age: o.keepCompletedSeconds },
    removeOnFail: { age: o.keepFailedSeconds },
    // A refused architecture (over the limits, not in the table) must not leave its step waiting forever: the
    // parent becomes ready and reads the failure with getIgnoredChildrenFailures (readStepResults).
    ignoreDependencyOnFailure: true,
  };
}

/**
 * Enqueues one controller step as a single BullMQ flow: the parent in STEPS_QUEUE and its m children in
 * CHILDREN_QUEUE, atomically. Job ids are deterministic (`${experiment}.${stepId}` and
 * `${experiment}.${stepId}.${index}`), so enqueuing the same step twice creates no duplicates. Throws
 * InvalidJobError when the payloads are malformed or do not match each other.
 */
export async function enqueueStep(flow: FlowProducer, step: StepJob, children: readonly ChildJob[], options: EnqueueOptions = {}): Promise<EnqueuedStep> {
  const s = parseStepJob(step);
  const cs = children.map((c) => parseChildJob(c));
  if (cs.length !== s.samples.length) throw new InvalidJobError('children', `${cs.length} children for ${s.samples.length} samples`);
  cs.forEach((c, i) => {
    const where = `children[${i}]`;
    const sample = s.samples[i];
    if (c.index !== i) throw new InvalidJobError(`${where}.index`, `expected ${i} (children in sample order)`);
    if (c.experiment !== s.experiment || c.stepId !== s.stepId) throw new InvalidJobError(`${where}.stepId`, 'belongs to another experiment or step');
    if (c.replica !== s.replica || c.layers !== s.layers) throw new InvalidJobError(`${where}.layers`, 'replica or layers differ from the step');
    if (sample === undefined || c.archKey !== sample.archKey || c.tokens.join(',') !== sample.tokens.join(',')) {
      throw new InvalidJobError(`${where}.tokens`, `differ from samples[${i}]`);
    }
  });
  const o = { ...ENQUEUE_DEFAULTS, ...options };
  const parentId = stepJobId(s.experiment, s.stepId);
  await flow.add({
    name: 'step',
    queueName: STEPS_QUEUE,
    data: s,
    opts: {
      jobId: parentId,
      attempts: o.stepAttempts,
      backoff: { type: 'exponential', delay: o.stepBackoffMs },
      removeOnComplete: { age: o.keepCompletedSeconds },
      removeOnFail: { age: o.keepFailedSeconds },
    },
    children: cs.map((c) => ({ name: 'child', queueName: CHILDREN_QUEUE, data: c, opts: childJobOptions(c.experiment, c.stepId, c.index, o) })),
  });
  return { parentId, childIds: cs.map((c) => childJobId(c.experiment, c.stepId, c.index)) };
}

/** The outcome of one child of a step: its result, or why it failed for good. */
export interface ChildOutcome {
  readonly index: number;
  readonly childId: string;
  readonly result: ChildResult | null;
  /** The failure reason (e.g. "EvaluationRefusedError: ..."), or null when there is a result. */
  readonly error: string | null;
  /** True when the evaluator refused the architecture (EvaluationRefusedError): the architecture's fault, not the cluster's. */
  readonly refused: boolean;
}

/** Whether a child's failure reason is a refusal of its architecture (see EvaluationRefusedError). */
export function isRefusal(reason: string | null): boolean {
  return reason !== null && reason.startsWith(`${EvaluationRefusedError.name}:`);
}

/** What readStepResults needs of a parent job: a BullMQ Job or a sandboxed job both fit. */
export interface ParentJobLike {
  readonly data: unknown;
  getChildrenValues(): Promise<Record<string, unknown>>;
  getIgnoredChildrenFailures(): Promise<Record<string, string>>;
}

/**
 * A ready parent's children, in index order (0..m−1): each with its ChildResult (getChildrenValues) or its
 * failure reason (a child that failed all its attempts; see childJobOptions). A child missing from both has
 * error "missing".
 */
export async function readStepResults(parent: ParentJobLike): Promise<ChildOutcome[]> {
  const step = parseStepJob(parent.data);
  const values = (await parent.getChildrenValues()) ?? {};
  const failures = (await parent.getIgnoredChildrenFailures()) ?? {};
  const byIndex = new Map<number, { result?: ChildResult; error?: string }>();
  const indexOf = (key: string): number => Number(key.slice(key.lastIndexOf('.') + 1));
  for (const [key, value] of Object.entries(values)) byIndex.set(indexOf(key), { result: parseChildResult(value, `children values[${key}]`) });
  for (const [key, reason] of Object.entries(failures)) if (!byIndex.has(indexOf(key))) byIndex.set(indexOf(key), { error: reason });
  return step.samples.map((_, index) => {
    const got = byIndex.get(index);
    return {
      index,
      childId: childJobId(step.experiment, step.stepId, index),
      result: got?.result ?? null,
      error: got?.result ? null : got?.error ?? 'missing',
      refused: !got?.result && isRefusal(got?.error ?? null),
    };
  });
}
