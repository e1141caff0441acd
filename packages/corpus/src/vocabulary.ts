import { CorpusError } from './errors';
import type { Corpus, CorpusLevel, CorpusName } from './types';

/** The out-of-vocabulary token, and the word that ends a sentence. */
export const UNKNOWN = '<unk>';
export const END_OF_SENTENCE = '<eos>';

/** Sentences as lists of words, per split, before any vocabulary. */
export interface SplitSentences {
  readonly train: readonly (readonly string[])[];
  readonly validation: readonly (readonly string[])[];
  readonly test: readonly (readonly string[])[];
}

/** How buildCorpus turns sentences into ids. */
export interface VocabularyOptions {
  readonly level: CorpusLevel;
  /** Word level: keep the most frequent `maxWords` tokens of the training split (`<eos>` counts); null keeps all. */
  readonly maxWords: number | null;
}

function tokensOf(sentence: readonly string[], level: CorpusLevel): string[] {
  if (level === 'word') return [...sentence, END_OF_SENTENCE];
  return [...sentence.join(' '), '\n'];
}

/**
 * Ids for three splits: the vocabulary is `<unk>` followed by the training split's tokens by decreasing count
 * (ties in code-point order, so it is deterministic); at word level only the `maxWords` most frequent are kept.
 */
export function buildCorpus(name: CorpusName, splits: SplitSentences, options: VocabularyOptions): Corpus {
  if (options.maxWords !== null && (!Number.isInteger(options.maxWords) || options.maxWords < 1)) {
    throw new CorpusError(`maxWords: expected a positive integer or null, got ${options.maxWords}`);
  }
  for (const split of ['train', 'validation', 'test'] as const) {
    if (splits[split].length === 0) throw new CorpusError(`corpus ${name}: the ${split} split has no sentences`);
  }
  const counts = new Map<string, number>();
  for (const sentence of splits.train) {
    for (const t of tokensOf(sentence, options.level)) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  counts.delete(UNKNOWN);
  let ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([t]) => t);
  if (options.level === 'word' && options.maxWords !== null) ranked = ranked.slice(0, options.maxWords);
  const vocabulary = [UNKNOWN, ...ranked];
  const ids = new Map(vocabulary.map((t, i) => [t, i]));
  const encode = (sentences: readonly (readonly string[])[]): Int32Array => {
    const out: number[] = [];
    for (const s of sentences) for (const t of tokensOf(s, options.level)) out.push(ids.get(t) ?? 0);
    return Int32Array.from(out);
  };
  return {
    name, level: options.level, vocabulary, vocabularySize: vocabulary.length, unknownId: 0,
    train: encode(splits.train), validation: encode(splits.validation), test: encode(splits.test),
  };
}
