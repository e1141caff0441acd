import { array, finite, integer, object, onlyKeys, string, boolean, type Fail } from './check';
import { EXPERIMENT_ID_PATTERN } from './config';
import { InvalidJobError } from './errors';

/** Step ids: chosen by the controller, unique per experiment; safe in BullMQ job ids (no ':' and no '.'). */
export const STEP_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** One architecture to evaluate: a job of the children queue. */
export interface ChildJob {
  readonly experiment: string;
  readonly stepId: string;
  /** Position in its step, 0..m−1: the order of the step's samples. */
  readonly index: number;
  /** The controller replica that sampled it. */
  readonly replica: number;
  /** The sampled tokens (choice indices; anchor tokens 0/1). */
  readonly tokens: readonly number[];
  /** Depth the tokens were sampled at (conv space; 1 for fixed-size spaces). */
  readonly layers: number;
  /** The space's canonical key of the architecture (reward cache key). */
  readonly archKey: string;
  /** The space's JSON description of the architecture (for people and logs; the tokens are authoritative). */
  readonly arch: unknown;
  /** Version of each parameter-server shard the sampling policy had (for staleness accounting). */
  readonly parameterVersions: readonly number[];
}

/** What a worker returns for a child job (its BullMQ return value). */
export interface ChildResult {
  /**
   * The raw reward, before the experiment shapes it into what REINFORCE sees (stepRewards of @nasrl/controller:
   * rewardScale, rewardPower, costReward): conv: the best recent validation accuracy (= accuracy); rnn:
   * c / (validation perplexity)²; table: the table's reward.
   */
  readonly reward: number;
  /**
   * Validation accuracy, higher is better (conv: best of the reward window; rnn: 1 / validation perplexity,
   * the geometric mean probability of the right next token, 0 when training diverged; table: the table's reward).
   */
  readonly accuracy: number;
  /** Validation accuracy after each epoch (rnn: 1 / perplexity; table: [reward]). */
  readonly curve: readonly number[];
  /** rnn: the best epoch's validation perplexity; absent for the other spaces and for a child whose training diverged. */
  readonly perplexity?: number;
  /** Training time in seconds (table: simulated, cost × timeScale). */
  readonly seconds: number;
  /** Trainable parameters (0 when the table does not say). */
  readonly parameters: number;
  /** Id of the worker that evaluated it. */
  readonly worker: string;
  /** True when the reward came from the reward cache instead of an evaluation. */
  readonly cached: boolean;
}

/** One sampled architecture of a step, as the parent job keeps it for the gradient. */
export interface StepSample {
  readonly tokens: readonly number[];
  /** log P(tokens) under the policy that sampled them. */
  readonly logProb: number;
  readonly archKey: string;
}

/** A controller step: the parent job of the steps queue, ready once all its children are done. */
export interface StepJob {
  readonly experiment: string;
  readonly stepId: string;
  readonly replica: number;
  readonly layers: number;
  readonly samples: readonly StepSample[];
  readonly parameterVersions: readonly number[];
}

const fail: Fail = (field, problem) => new InvalidJobError(field, problem);
const MAX_TOKENS = 100_000;

function tokens(value: unknown, where: string): number[] {
  if (Array.isArray(value) && value.length > MAX_TOKENS) throw fail(where, `more than ${MAX_TOKENS} tokens`);
  return array(value, where, fail, (v, w) => integer(v, w, fail, 0));
}

function common(d: Record<string, unknown>) {
  return {
    experiment: string(d.experiment, 'experiment', fail, EXPERIMENT_ID_PATTERN, 'an experiment id ([A-Za-z0-9_-]{1,64})'),
    stepId: string(d.stepId, 'stepId', fail, STEP_ID_PATTERN, 'a step id ([A-Za-z0-9_-]{1,128})'),
    replica: integer(d.replica, 'replica', fail, 0),
    layers: integer(d.layers, 'layers', fail, 1),
    parameterVersions: array(d.parameterVersions, 'parameterVersions', fail, (v, w) => integer(v, w, fail, 0)),
  };
}

function archKey(value: unknown, where: string): string {
  return string(value, where, fail, /^.{1,4096}$/s, 'a non-empty architecture key of at most 4096 characters');
}

/** Validates a child job payload; throws InvalidJobError naming the first bad field. */
export function parseChildJob(data: unknown): ChildJob {
  const d = object(data, '(payload)', fail);
  onlyKeys(d, ['experiment', 'stepId', 'index', 'replica', 'tokens', 'layers', 'archKey', 'arch', 'parameterVersions'], '', fail);
  const c = common(d);
  if (d.arch === undefined) throw fail('arch', 'missing (the JSON description of the architecture)');
  return {
    experiment: c.experiment,
    stepId: c.stepId,
    index: integer(d.index, 'index', fail, 0, 9_999),
    replica: c.replica,
    tokens: tokens(d.tokens, 'tokens'),
    layers: c.layers,
    archKey: archKey(d.archKey, 'archKey'),
    arch: d.arch,
    parameterVersions: c.parameterVersions,
  };
}

/** Validates a step (parent) job payload; throws InvalidJobError naming the first bad field. */
export function parseStepJob(data: unknown): StepJob {
  const d = object(data, '(payload)', fail);
  onlyKeys(d, ['experiment', 'stepId', 'replica', 'layers', 'samples', 'parameterVersions'], '', fail);
  const c = common(d);
  const samples = array(d.samples, 'samples', fail, (v, w): StepSample => {
    const s = object(v, w, fail);
    onlyKeys(s, ['tokens', 'logProb', 'archKey'], w, fail);
    return { tokens: tokens(s.tokens, `${w}.tokens`), logProb: finite(s.logProb, `${w}.logProb`, fail, (x) => x <= 0, '≤ 0'), archKey: archKey(s.archKey, `${w}.archKey`) };
  });
  if (samples.length === 0) throw fail('samples', 'a step needs at least one sample');
  return { experiment: c.experiment, stepId: c.stepId, replica: c.replica, layers: c.layers, samples, parameterVersions: c.parameterVersions };
}

/** Validates a child result (a worker's return value, a stored evaluation); throws InvalidJobError naming the field. */
export function parseChildResult(data: unknown, where = 'result'): ChildResult {
  const d = object(data, where, fail);
  onlyKeys(d, ['reward', 'accuracy', 'curve', 'perplexity', 'seconds', 'parameters', 'worker', 'cached'], where, fail);
  return {
    reward: finite(d.reward, `${where}.reward`, fail),
    accuracy: finite(d.accuracy, `${where}.accuracy`, fail),
    curve: array(d.curve, `${where}.curve`, fail, (v, w) => finite(v, w, fail)),
    ...(d.perplexity === undefined ? {} : { perplexity: finite(d.perplexity, `${where}.perplexity`, fail, (x) => x >= 1, '≥ 1') }),
    seconds: finite(d.seconds, `${where}.seconds`, fail, (x) => x >= 0, '≥ 0'),
    parameters: integer(d.parameters, `${where}.parameters`, fail, 0),
    worker: string(d.worker, `${where}.worker`, fail),
    cached: boolean(d.cached, `${where}.cached`, fail),
  };
}

/** BullMQ job id of a step's parent job: `${experiment}.${stepId}`. */
export function stepJobId(experiment: string, stepId: string): string {
  return `${experiment}.${stepId}`;
}

/** BullMQ job id of a child job, also its id in the results store: `${experiment}.${stepId}.${index}`. */
export function childJobId(experiment: string, stepId: string, index: number): string {
  return `${experiment}.${stepId}.${index}`;
}
