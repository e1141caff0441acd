import { REFUSED_REWARD_DEFAULT, type RefusedRewardRule } from '@nasrl/controller';
import { CONV_SPACE_DEFAULTS, compileConvSpaceOptions, type ConvSpaceOptions } from '@nasrl/spaces';
import { boolean, finite, integer, object, oneOf, onlyKeys, string, type Fail } from './check';
import { InvalidConfigError } from './errors';
import { parseRnnOptions, type ExperimentRnnOptions } from './rnn-config';

/** The search spaces an experiment can use. */
export type SpaceName = 'conv' | 'nb201' | 'table' | 'rnn';
export const SPACE_NAMES: readonly SpaceName[] = ['conv', 'nb201', 'table', 'rnn'];

/** How children are evaluated: trained (conv and rnn spaces), or looked up in a table (nb201, table spaces). */
export type EvaluatorName = 'train' | 'table';
export const EVALUATOR_NAMES: readonly EvaluatorName[] = ['train', 'table'];

/** Datasets the `train` evaluator can use (see @nasrl/datasets). */
export type TrainingDatasetName = 'fashion-mnist' | 'cifar10' | 'synthetic';
export const TRAINING_DATASETS: readonly TrainingDatasetName[] = ['fashion-mnist', 'cifar10', 'synthetic'];

/** The controller policy's options that an experiment fixes (see @nasrl/controller PolicyOptions). */
export interface ExperimentPolicyOptions {
  /** LSTM units per layer. Default 35. */
  readonly hiddenSize: number;
  /** Stacked LSTM layers. Default 2. */
  readonly lstmLayers: number;
  /** Softmax temperature. Default 1. */
  readonly temperature: number;
  /** Logits become tanhConstant·tanh(logits) when > 0. Default 0 (off). */
  readonly tanhConstant: number;
}

/** How the `train` evaluator trains a child. */
export interface ExperimentTrainingOptions {
  /** Default 'fashion-mnist' (embedded, no download). */
  readonly dataset: TrainingDatasetName;
  /** Folder of the CIFAR-10 binary files on the workers; required for cifar10. Default null. */
  readonly dataDir: string | null;
  /** Training images to keep; null keeps all. Default null. */
  readonly subset: number | null;
  /** Epochs per child. Default 50 (SPEC.md §4). */
  readonly epochs: number;
  /** Training batch size. Default 64. */
  readonly batchSize: number;
  /** Validation images (the reward's sample); null: a fifth of the subset, capped at the split. Default null. */
  readonly validationSubset: number | null;
  /** Initial learning rate of the child's momentum SGD (cosine decay). Default 0.1 (SPEC.md §4). */
  readonly learningRate: number;
  /** Augment training batches as the dataset does by default (crops, flips). Default true. */
  readonly augment: boolean;
}

/**
 * A reward that prefers cheaper children (the MnasNet form): reward × (cost / target)^weight, with cost the
 * child's training seconds or its parameter count. A negative weight penalises children above the target
 * and favours those below it.
 */
export interface ExperimentCostReward {
  readonly metric: 'seconds' | 'parameters';
  /** The cost at which the factor is 1 (seconds or parameters), > 0. */
  readonly target: number;
  /** The exponent w, in [-1, 0]; -0.07 is MnasNet's soft constraint. */
  readonly weight: number;
}

/** Architectures over these are refused before training (non-retryable). */
export interface ExperimentLimits {
  /** Default 64. */
  readonly maxLayers: number;
  /** Most filters in one layer. Default 512. */
  readonly maxFilters: number;
  /** Most trainable parameters. Default 20,000,000. */
  readonly maxParameters: number;
}

/** The whole configuration of an experiment, fixed at creation and shared by every replica and worker. */
export interface ExperimentConfig {
  /** [A-Za-z0-9_-]{1,64}; part of Redis keys and job ids. */
  readonly id: string;
  /** Default 'conv'. */
  readonly space: SpaceName;
  /** Convolutional space options, fully populated for 'conv'; {} for the other spaces. */
  readonly spaceOptions: ConvSpaceOptions;
  /** NAS-Bench-201 CSV (space nb201, evaluator table) or table space JSON (space table); null otherwise. */
  readonly tablePath: string | null;
  /** Default: 'train' for conv and rnn, 'table' for nb201 and table. */
  readonly evaluator: EvaluatorName;
  /** Architectures to evaluate in total, over all replicas. Default 12,800 (the paper's). */
  readonly budgetArchs: number;
  /** m: architectures sampled per controller step. Default 8. */
  readonly childrenPerStep: number;
  /**
   * Steps a replica keeps in flight: with 1 (the paper's loop) it samples its next step only once the last one
   * is applied, so the workers of its step wait for the slowest child; with 2 it samples the next step while
   * the last one trains (gradients one step staler, workers kept busy). Default 1.
   */
  readonly stepsInFlight: number;
  /** Adam learning rate of the controller. Default 0.0006. */
  readonly learningRate: number;
  /** Decay of the shared EMA baseline, in [0, 1). Default 0.95. */
  readonly baselineDecay: number;
  /** Weight of the entropy bonus, ≥ 0. Default 0. */
  readonly entropyWeight: number;
  /** The controller multiplies each reward by this before REINFORCE (workers report raw rewards). Default 1. */
  readonly rewardScale: number;
  /**
   * The scaled reward is raised to this power before REINFORCE (emphasises the best children). Default 3 for
   * the conv space (SPEC: the validation accuracy, cubed; workers report the accuracy itself), 1 otherwise.
   */
  readonly rewardPower: number;
  /** Multiplies the shaped reward by a cost factor (see ExperimentCostReward); null: none. Default null. */
  readonly costReward: ExperimentCostReward | null;
  /**
   * The reward REINFORCE sees for a refused child (over the limits, missing from a table): 'worst', the worst
   * reward seen in the experiment so far (0 before any), or a number. Default 'worst'.
   */
  readonly refusedReward: RefusedRewardRule;
  readonly policy: ExperimentPolicyOptions;
  /** Reuse the reward of an architecture evaluated before (reward cache). Default true. */
  readonly reuseEvaluations: boolean;
  /** A table evaluation sleeps cost-seconds × timeScale to simulate training; 0 = instant. Default 0. */
  readonly timeScale: number;
  readonly training: ExperimentTrainingOptions;
  readonly limits: ExperimentLimits;
  /** The recurrent-cell space and its language-model children, fully populated for 'rnn'; null for the other spaces. */
  readonly rnn: ExperimentRnnOptions | null;
}

/** The conv space's default reward power: SPEC's reward is the validation accuracy, cubed. */
export const CONV_REWARD_POWER = 3;

/** Defaults of every optional field (space-dependent ones are filled by parseExperimentConfig). */
export const EXPERIMENT_DEFAULTS = {
  space: 'conv' as SpaceName,
  budgetArchs: 12_800,
  childrenPerStep: 8,
  stepsInFlight: 1,
  learningRate: 0.0006,
  baselineDecay: 0.95,
  entropyWeight: 0,
  rewardScale: 1,
  rewardPower: 1,
  costReward: null as ExperimentCostReward | null,
  refusedReward: REFUSED_REWARD_DEFAULT,
  policy: { hiddenSize: 35, lstmLayers: 2, temperature: 1, tanhConstant: 0 } as ExperimentPolicyOptions,
  reuseEvaluations: true,
  timeScale: 0,
  training: {
    dataset: 'fashion-mnist', dataDir: null, subset: null, epochs: 50, batchSize: 64, validationSubset: null, learningRate: 0.1, augment: true,
  } as ExperimentTrainingOptions,
  limits: { maxLayers: 64, maxFilters: 512, maxParameters: 20_000_000 } as ExperimentLimits,
} as const;

const TOP_KEYS = [
  'id', 'space', 'spaceOptions', 'tablePath', 'evaluator', 'budgetArchs', 'childrenPerStep', 'stepsInFlight', 'learningRate', 'baselineDecay',
  'entropyWeight', 'rewardScale', 'rewardPower', 'costReward', 'refusedReward', 'policy', 'reuseEvaluations', 'timeScale', 'training', 'limits', 'rnn',
] as const;

/** Experiment ids: safe in Redis keys, BullMQ job ids (no ':') and file names. */
export const EXPERIMENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const fail: Fail = (field, problem) => new InvalidConfigError(field, problem);

/**
 * Validates an experiment configuration (an object, or its JSON text) and fills the defaults; throws
 * InvalidConfigError naming the first bad or unknown field. The result is canonical: parsing it again gives
 * an equal object with the same key order, so stored configurations compare as JSON text.
 */
export function parseExperimentConfig(json: unknown): ExperimentConfig {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json) as unknown;
    } catch (err) {
      throw new InvalidConfigError('(text)', `not valid JSON (${(err as Error).message})`);
    }
  }
  const root = object(json, '(root)', fail);
  onlyKeys(root, TOP_KEYS, '', fail);
  const d = EXPERIMENT_DEFAULTS;
  const opt = <T>(key: string, parse: (v: unknown, where: string) => T, def: T): T => (root[key] === undefined ? def : parse(root[key], key));
  const positive = (v: unknown, w: string): number => finite(v, w, fail, (x) => x > 0, '> 0');
  const nonNegative = (v: unknown, w: string): number => finite(v, w, fail, (x) => x >= 0, '≥ 0');

  const id = string(root.id, 'id', fail, EXPERIMENT_ID_PATTERN, '1 to 64 characters of A-Z a-z 0-9 _ -');
  const space = opt('space', (v, w) => oneOf(v, SPACE_NAMES, w, fail), d.space);
  const trained = space === 'conv' || space === 'rnn';
  const evaluator = opt('evaluator', (v, w) => oneOf(v, EVALUATOR_NAMES, w, fail), trained ? 'train' : 'table');
  const tablePath = root.tablePath === undefined || root.tablePath === null ? null : string(root.tablePath, 'tablePath', fail, /\S/, 'a file path');
  const spaceOptions = parseSpaceOptions(space, root.spaceOptions);

  if (evaluator === 'train' && !trained) throw fail('evaluator', `"train" needs space "conv" or "rnn" (the spaces whose children are trained), got space "${space}"`);
  if (evaluator === 'table' && trained) throw fail('evaluator', `"table" needs space "nb201" or "table"; the ${space} space has no table`);
  if (space !== 'rnn' && root.rnn !== undefined && root.rnn !== null) throw fail('rnn', `only the rnn space has rnn settings; remove them for space "${space}"`);
  if (evaluator === 'table' && tablePath === null) {
    throw fail('tablePath', `required for the table evaluator: the ${space === 'nb201' ? 'NAS-Bench-201 CSV' : 'table space JSON'} file`);
  }
  if (evaluator === 'train' && tablePath !== null) throw fail('tablePath', 'only used by the table evaluator; remove it');

  const training = parseTraining(root.training);
  if (space === 'conv' && evaluator === 'train' && training.dataset === 'cifar10' && training.dataDir === null) {
    throw fail('training.dataDir', 'required for dataset "cifar10": the folder of data_batch_1.bin … data_batch_5.bin on the workers');
  }
  return {
    id,
    space,
    spaceOptions,
    tablePath,
    evaluator,
    budgetArchs: opt('budgetArchs', (v, w) => integer(v, w, fail, 1), d.budgetArchs),
    childrenPerStep: opt('childrenPerStep', (v, w) => integer(v, w, fail, 1, 10_000), d.childrenPerStep),
    stepsInFlight: opt('stepsInFlight', (v, w) => integer(v, w, fail, 1, 16), d.stepsInFlight),
    learningRate: opt('learningRate', positive, d.learningRate),
    baselineDecay: opt('baselineDecay', (v, w) => finite(v, w, fail, (x) => x >= 0 && x < 1, 'in [0, 1)'), d.baselineDecay),
    entropyWeight: opt('entropyWeight', nonNegative, d.entropyWeight),
    rewardScale: opt('rewardScale', positive, d.rewardScale),
    rewardPower: opt('rewardPower', positive, space === 'conv' ? CONV_REWARD_POWER : d.rewardPower),
    costReward: parseCostReward(root.costReward),
    refusedReward: opt('refusedReward', parseRefusedReward, d.refusedReward),
    policy: parsePolicy(root.policy),
    reuseEvaluations: opt('reuseEvaluations', (v, w) => boolean(v, w, fail), d.reuseEvaluations),
    timeScale: opt('timeScale', nonNegative, d.timeScale),
    training,
    limits: parseLimits(root.limits),
    rnn: space === 'rnn' ? parseRnnOptions(root.rnn, fail) : null,
  };
}

function section(value: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const obj = object(value, where, fail);
  onlyKeys(obj, keys, where, fail);
  return obj;
}

function parseSpaceOptions(space: SpaceName, value: unknown): ConvSpaceOptions {
  const keys = Object.keys(CONV_SPACE_DEFAULTS);
  if (space !== 'conv') {
    if (value !== undefined && Object.keys(object(value, 'spaceOptions', fail)).length > 0) {
      throw fail('spaceOptions', `only the conv space has options; remove them for space "${space}"`);
    }
    return {};
  }
  const raw = section(value, 'spaceOptions', keys);
  let compiled: Record<string, unknown>;
  try {
    compiled = compileConvSpaceOptions(raw as ConvSpaceOptions) as unknown as Record<string, unknown>;
  } catch (err) {
    throw new InvalidConfigError('spaceOptions', (err as Error).message);
  }
  // Rebuilt in the defaults' key order so that equal options give equal JSON text.
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = compiled[k];
    out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  return out as ConvSpaceOptions;
}

function parsePolicy(value: unknown): ExperimentPolicyOptions {
  const d = EXPERIMENT_DEFAULTS.policy;
  const p = section(value, 'policy', Object.keys(d));
  return {
    hiddenSize: p.hiddenSize === undefined ? d.hiddenSize : integer(p.hiddenSize, 'policy.hiddenSize', fail, 1, 4096),
    lstmLayers: p.lstmLayers === undefined ? d.lstmLayers : integer(p.lstmLayers, 'policy.lstmLayers', fail, 1, 16),
    temperature: p.temperature === undefined ? d.temperature : finite(p.temperature, 'policy.temperature', fail, (x) => x > 0, '> 0'),
    tanhConstant: p.tanhConstant === undefined ? d.tanhConstant : finite(p.tanhConstant, 'policy.tanhConstant', fail, (x) => x >= 0, '≥ 0'),
  };
}

function parseTraining(value: unknown): ExperimentTrainingOptions {
  const d = EXPERIMENT_DEFAULTS.training;
  const t = section(value, 'training', Object.keys(d));
  return {
    dataset: t.dataset === undefined ? d.dataset : oneOf(t.dataset, TRAINING_DATASETS, 'training.dataset', fail),
    dataDir: t.dataDir === undefined || t.dataDir === null ? null : string(t.dataDir, 'training.dataDir', fail, /\S/, 'a folder path'),
    subset: t.subset === undefined || t.subset === null ? null : integer(t.subset, 'training.subset', fail, 1),
    epochs: t.epochs === undefined ? d.epochs : integer(t.epochs, 'training.epochs', fail, 1, 10_000),
    batchSize: t.batchSize === undefined ? d.batchSize : integer(t.batchSize, 'training.batchSize', fail, 1, 65_536),
    validationSubset: t.validationSubset === undefined || t.validationSubset === null ? null : integer(t.validationSubset, 'training.validationSubset', fail, 1),
    learningRate: t.learningRate === undefined ? d.learningRate : finite(t.learningRate, 'training.learningRate', fail, (x) => x > 0, '> 0'),
    augment: t.augment === undefined ? d.augment : boolean(t.augment, 'training.augment', fail),
  };
}

function parseCostReward(value: unknown): ExperimentCostReward | null {
  if (value === undefined || value === null) return null;
  const c = section(value, 'costReward', ['metric', 'target', 'weight']);
  if (c.metric === undefined || c.target === undefined || c.weight === undefined) {
    throw fail('costReward', 'needs metric ("seconds" or "parameters"), target (> 0) and weight (in [-1, 0]), or null for none');
  }
  return {
    metric: oneOf(c.metric, ['seconds', 'parameters'] as const, 'costReward.metric', fail),
    target: finite(c.target, 'costReward.target', fail, (x) => x > 0, '> 0'),
    weight: finite(c.weight, 'costReward.weight', fail, (x) => x >= -1 && x <= 0, 'in [-1, 0]'),
  };
}

function parseRefusedReward(value: unknown, where: string): RefusedRewardRule {
  if (value === 'worst') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw fail(where, `expected "worst" (the worst reward seen so far) or a finite number, got ${JSON.stringify(value)}`);
}

function parseLimits(value: unknown): ExperimentLimits {
  const d = EXPERIMENT_DEFAULTS.limits;
  const l = section(value, 'limits', Object.keys(d));
  return {
    maxLayers: l.maxLayers === undefined ? d.maxLayers : integer(l.maxLayers, 'limits.maxLayers', fail, 1),
    maxFilters: l.maxFilters === undefined ? d.maxFilters : integer(l.maxFilters, 'limits.maxFilters', fail, 1),
    maxParameters: l.maxParameters === undefined ? d.maxParameters : integer(l.maxParameters, 'limits.maxParameters', fail, 1),
  };
}
