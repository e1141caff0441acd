/** Word-level corpora predict the next word; character-level ones the next character. */
export type CorpusLevel = 'word' | 'char';

/** The sources a corpus can come from: the embedded Brown corpus, or Penn Treebank's three files. */
export type CorpusName = 'brown' | 'ptb';

/**
 * A language-modelling corpus: three token streams of ids into `vocabulary`. A sentence ends with the id of
 * `<eos>` (word level) or of `\n` (character level); out-of-vocabulary tokens map to `unknownId`.
 */
export interface Corpus {
  readonly name: CorpusName;
  readonly level: CorpusLevel;
  /** Id → token (a word, or one character). */
  readonly vocabulary: readonly string[];
  readonly vocabularySize: number;
  readonly unknownId: number;
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly test: Int32Array;
}
