/**
 * Errors of the queue layer. Each says whether retrying the same input can succeed (`retryable`); the worker
 * turns every non-retryable one into BullMQ's UnrecoverableError so the job fails without further attempts.
 */

/**
 * Thrown when a job payload (child job, step job, child result) is malformed: a missing or mistyped field.
 * Not retryable: the same payload always fails; the message names the field, fix the producer.
 */
export class InvalidJobError extends Error {
  readonly retryable = false;
  constructor(readonly field: string, problem: string) {
    super(`invalid job payload: ${field}: ${problem}`);
    this.name = 'InvalidJobError';
  }
}

/**
 * Thrown when an experiment id is not in the store (get, reserve, baseline updates, a job naming it). Not
 * retryable: create the experiment first (`nasrl local` or the controller does this at start).
 */
export class ExperimentNotFoundError extends Error {
  readonly retryable = false;
  constructor(readonly experiment: string) {
    super(`experiment "${experiment}" does not exist; create it first (ExperimentStore.create)`);
    this.name = 'ExperimentNotFoundError';
  }
}

/**
 * Thrown when creating an experiment whose id is already stored with a different configuration. Not
 * retryable: pick a new id, or resubmit exactly the stored configuration to join the running experiment.
 */
export class ConflictError extends Error {
  readonly retryable = false;
  constructor(readonly experiment: string, detail: string) {
    super(`experiment "${experiment}" already exists with a different configuration (${detail}); use a new id or the stored configuration`);
    this.name = 'ConflictError';
  }
}

/**
 * Thrown for an invalid experiment configuration (or connection option); the message names the field and
 * what it accepts. Not retryable: fix the configuration.
 */
export class InvalidConfigError extends Error {
  readonly retryable = false;
  constructor(readonly field: string, problem: string, scope = 'experiment config') {
    super(`${scope}: ${field}: ${problem}`);
    this.name = 'InvalidConfigError';
  }
}

/**
 * Thrown by an evaluator that refuses an architecture: over the configured limits, or missing from the table.
 * Not retryable: the same architecture always fails; the step counts it with the experiment's refusedReward
 * (by default the worst reward seen so far), so the controller learns to avoid it.
 */
export class EvaluationRefusedError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationRefusedError';
  }
}

/**
 * Thrown for a child of an experiment that `nasrl stop` stopped: before it is evaluated, or when its
 * evaluation was cancelled for that reason. Not retryable: a stopped experiment stays stopped.
 */
export class ExperimentStoppedError extends Error {
  readonly retryable = false;
  constructor(readonly experiment: string) {
    super(`experiment "${experiment}" was stopped (nasrl stop); its children are not evaluated`);
    this.name = 'ExperimentStoppedError';
  }
}

/** True for errors that say retrying cannot help (`retryable === false`), whichever package threw them. */
export function isNonRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false;
}
