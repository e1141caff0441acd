import { RNN_CORPORA, RNN_EXPERIMENT_DEFAULTS, RNN_LEVELS, type ExperimentConfig } from '@nasrl/queue';
import { intFlag, numberFlag, stringFlag, UsageError, type ParsedArgs } from '../args';
import { tunedReinforce } from '../defaults';

/** The `nasrl local` flags of the rnn space, and the field of the experiment's rnn section each one sets. */
export const RNN_LOCAL_FLAGS: Readonly<Record<string, string>> = {
  base: 'base',
  corpus: 'corpus',
  'data-dir': 'dataDir',
  level: 'level',
  hidden: 'hiddenSize',
  layers: 'layers',
  epochs: 'epochs',
  'train-tokens': 'trainTokens',
  'eval-tokens': 'evaluationTokens',
  'reward-c': 'rewardConstant',
};

/** Architectures a `nasrl local --space rnn` run evaluates unless --budget-archs says otherwise. */
export const RNN_LOCAL_BUDGET = 100;

/** What `nasrl local --help` says of the rnn space. */
export const RNN_LOCAL_HELP = `--space rnn searches recurrent cells (the paper's section 3.4) and trains each as a small language model:
by default base-8 cells, character level on the embedded Brown corpus, 1 layer of 32 units, 3 epochs over
the first 20,000 training characters, validated on 5,000 (a child takes seconds); reward 80 / perplexity².
--base, --corpus brown|ptb, --data-dir (ptb), --level char|word, --hidden, --layers, --epochs,
--train-tokens N|all, --eval-tokens N|all and --reward-c change that.`;

/** A token budget flag: a count of at least 2, or `all` (null). */
function tokensFlag(args: ParsedArgs, name: string): number | null {
  if (stringFlag(args, name) === 'all') return null;
  return intFlag(args, name, 0, 2);
}

/**
 * The raw experiment (before parseExperimentConfig) of `nasrl local --space rnn`: REINFORCE tuned as for the
 * table spaces (their rewards are not percentages either), 4 architectures per step, and the rnn section from
 * the flags (absent flags keep RNN_EXPERIMENT_DEFAULTS).
 */
export function rnnLocalExperiment(args: ParsedArgs, id: string, overrides: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const tuned = tunedReinforce('table');
  const corpus = stringFlag(args, 'corpus');
  if (corpus !== undefined && !(RNN_CORPORA as readonly string[]).includes(corpus)) throw new UsageError(`--corpus: expected ${RNN_CORPORA.join(' or ')}, got ${JSON.stringify(corpus)}`);
  const level = stringFlag(args, 'level');
  if (level !== undefined && !(RNN_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--level: expected ${RNN_LEVELS.join(' or ')}, got ${JSON.stringify(level)}`);
  if (corpus === 'ptb' && !args.flags.has('data-dir')) throw new UsageError('--corpus ptb needs --data-dir DIR: the folder of ptb.train.txt, ptb.valid.txt and ptb.test.txt');
  if (corpus !== 'ptb' && args.flags.has('data-dir')) throw new UsageError('--data-dir: only for --corpus ptb (the brown corpus is embedded)');
  const d = RNN_EXPERIMENT_DEFAULTS;
  const has = (flag: string): boolean => args.flags.has(flag);
  const rnn: Record<string, unknown> = {};
  if (has('base')) rnn.base = intFlag(args, 'base', d.base, 2, 64);
  if (corpus !== undefined) rnn.corpus = corpus;
  if (has('data-dir')) rnn.dataDir = stringFlag(args, 'data-dir');
  if (level !== undefined) rnn.level = level;
  if (has('hidden')) rnn.hiddenSize = intFlag(args, 'hidden', d.hiddenSize, 1, 65_536);
  if (has('layers')) rnn.layers = intFlag(args, 'layers', d.layers, 1, 16);
  if (has('epochs')) rnn.epochs = intFlag(args, 'epochs', d.epochs, 1, 10_000);
  if (has('train-tokens')) rnn.trainTokens = tokensFlag(args, 'train-tokens');
  if (has('eval-tokens')) rnn.evaluationTokens = tokensFlag(args, 'eval-tokens');
  if (has('reward-c')) rnn.rewardConstant = numberFlag(args, 'reward-c', d.rewardConstant, Number.MIN_VALUE);
  return {
    id,
    space: 'rnn',
    budgetArchs: RNN_LOCAL_BUDGET,
    childrenPerStep: 4,
    learningRate: tuned.learningRate,
    baselineDecay: tuned.baselineDecay,
    entropyWeight: tuned.entropyWeight,
    rewardScale: 1,
    rewardPower: 1,
    ...overrides,
    rnn,
  };
}

/** The flag that sets an rnn-section field (for config errors), or undefined. */
export function rnnFlagOf(field: string): string | undefined {
  const entry = Object.entries(RNN_LOCAL_FLAGS).find(([, f]) => `rnn.${f}` === field);
  return entry === undefined ? undefined : `--${entry[0]}`;
}

/** `nasrl train-arch` flags that train the best cell of an rnn search again with the search's settings. */
export function rnnRetrainFlags(config: ExperimentConfig): string[] {
  const r = config.rnn ?? RNN_EXPERIMENT_DEFAULTS;
  const flags = ['--space', 'rnn', '--corpus', r.corpus, '--level', r.level, '--layers', String(r.layers), '--hidden', String(r.hiddenSize), '--epochs', String(r.epochs)];
  if (r.dataDir !== null) flags.push('--data-dir', r.dataDir);
  if (r.trainTokens !== null) flags.push('--train-tokens', String(r.trainTokens));
  if (r.evaluationTokens !== null) flags.push('--eval-tokens', String(r.evaluationTokens));
  flags.push('--batch-size', String(r.batchSize), '--steps', String(r.steps), '--learning-rate', String(r.learningRate), '--reward-c', String(r.rewardConstant));
  return flags;
}
