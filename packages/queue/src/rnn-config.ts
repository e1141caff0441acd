import { RNN_MAX_BASE } from '@nasrl/spaces';
import { finite, integer, object, oneOf, onlyKeys, string, type Fail } from './check';

/** Corpora a language-model child can train on (see @nasrl/corpus). */
export type RnnCorpusName = 'brown' | 'ptb';
export const RNN_CORPORA: readonly RnnCorpusName[] = ['brown', 'ptb'];

/** Word-level children predict the next word; character-level ones the next character (much cheaper). */
export type RnnCorpusLevel = 'word' | 'char';
export const RNN_LEVELS: readonly RnnCorpusLevel[] = ['word', 'char'];

/**
 * The recurrent-cell space of an experiment and how its language-model children are trained (see
 * @nasrl/child trainLanguageModel). The defaults are a small proxy that trains in seconds on one core:
 * character level, one layer of 32 units, 3 epochs over the first 20,000 training characters.
 */
export interface ExperimentRnnOptions {
  /** Leaves of the cell's tree, a power of two in [2, 64]. Default 8 (the paper's: 34 tokens). */
  readonly base: number;
  /** Default 'brown' (embedded, no download). */
  readonly corpus: RnnCorpusName;
  /** Folder of ptb.train.txt, ptb.valid.txt and ptb.test.txt on the workers; required for 'ptb'. Default null. */
  readonly dataDir: string | null;
  /** Default 'char'. */
  readonly level: RnnCorpusLevel;
  /** Word level: vocabulary size without `<unk>`. Default 10,000. */
  readonly maxWords: number;
  /** Recurrent layers of a child. Default 1. */
  readonly layers: number;
  /** Units per layer (and embedding width). Default 32. */
  readonly hiddenSize: number;
  /** Passes over the training tokens. Default 3. */
  readonly epochs: number;
  /** Parallel streams per batch. Default 20. */
  readonly batchSize: number;
  /** Truncated back-propagation length, in time steps. Default 20. */
  readonly steps: number;
  /** Plain SGD learning rate (halved per epoch after the 4th). Default 1. */
  readonly learningRate: number;
  /** Dropout on non-recurrent connections, in [0, 1). Default 0. */
  readonly dropout: number;
  /** Train on the first N training tokens; null: all of them. Default 20,000. */
  readonly trainTokens: number | null;
  /** Validate on the first N validation tokens; null: all of them. Default 5,000. */
  readonly evaluationTokens: number | null;
  /** c of the reward c / (validation perplexity)². Default 80 (the paper's). */
  readonly rewardConstant: number;
}

/** Defaults of the rnn section. */
export const RNN_EXPERIMENT_DEFAULTS: ExperimentRnnOptions = {
  base: 8,
  corpus: 'brown',
  dataDir: null,
  level: 'char',
  maxWords: 10_000,
  layers: 1,
  hiddenSize: 32,
  epochs: 3,
  batchSize: 20,
  steps: 20,
  learningRate: 1,
  dropout: 0,
  trainTokens: 20_000,
  evaluationTokens: 5_000,
  rewardConstant: 80,
};

/** Validates the `rnn` section of an experiment (absent: all defaults), naming the bad field in `fail`'s error. */
export function parseRnnOptions(value: unknown, fail: Fail): ExperimentRnnOptions {
  const d = RNN_EXPERIMENT_DEFAULTS;
  const r = value === undefined || value === null ? {} : object(value, 'rnn', fail);
  onlyKeys(r, Object.keys(d), 'rnn', fail);
  const opt = <T>(key: keyof ExperimentRnnOptions, parse: (v: unknown, where: string) => T, def: T): T => (r[key] === undefined ? def : parse(r[key], `rnn.${key}`));
  const count = (min: number, max: number) => (v: unknown, w: string): number => integer(v, w, fail, min, max);
  const tokens = (v: unknown, w: string): number | null => (v === null ? null : integer(v, w, fail, 2));
  const base = opt('base', (v, w) => {
    const b = integer(v, w, fail, 2, RNN_MAX_BASE);
    if ((b & (b - 1)) !== 0) throw fail(w, `expected a power of two (the cell is a binary tree over its leaves), got ${b}`);
    return b;
  }, d.base);
  const corpus = opt('corpus', (v, w) => oneOf(v, RNN_CORPORA, w, fail), d.corpus);
  const dataDir = r.dataDir === undefined || r.dataDir === null ? null : string(r.dataDir, 'rnn.dataDir', fail, /\S/, 'a folder path');
  if (corpus === 'ptb' && dataDir === null) throw fail('rnn.dataDir', 'required for corpus "ptb": the folder of ptb.train.txt, ptb.valid.txt and ptb.test.txt on the workers');
  if (corpus === 'brown' && dataDir !== null) throw fail('rnn.dataDir', 'only used by corpus "ptb" (brown is embedded); remove it');
  return {
    base,
    corpus,
    dataDir,
    level: opt('level', (v, w) => oneOf(v, RNN_LEVELS, w, fail), d.level),
    maxWords: opt('maxWords', count(1, 10_000_000), d.maxWords),
    layers: opt('layers', count(1, 16), d.layers),
    hiddenSize: opt('hiddenSize', count(1, 65_536), d.hiddenSize),
    epochs: opt('epochs', count(1, 10_000), d.epochs),
    batchSize: opt('batchSize', count(1, 65_536), d.batchSize),
    steps: opt('steps', count(1, 10_000), d.steps),
    learningRate: opt('learningRate', (v, w) => finite(v, w, fail, (x) => x > 0, '> 0'), d.learningRate),
    dropout: opt('dropout', (v, w) => finite(v, w, fail, (x) => x >= 0 && x < 1, 'in [0, 1)'), d.dropout),
    trainTokens: opt('trainTokens', tokens, d.trainTokens),
    evaluationTokens: opt('evaluationTokens', tokens, d.evaluationTokens),
    rewardConstant: opt('rewardConstant', (v, w) => finite(v, w, fail, (x) => x > 0, '> 0'), d.rewardConstant),
  };
}
