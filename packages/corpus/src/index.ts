/**
 * Language-modelling corpora as token-id streams: the Brown corpus embedded through npm (no download), or
 * Penn Treebank's three files from a folder; word or character level.
 *
 * @example
 * ```ts
 * import { loadCorpus } from '@nasrl/corpus';
 * const words = loadCorpus(); // Brown: 10,000 words + <unk>, split by document
 * console.log(words.vocabularySize, words.train.length, words.validation.length, words.test.length);
 * const chars = loadCorpus({ level: 'char' });
 * const ptb = loadCorpus({ name: 'ptb', dataDir: '/data/ptb' });
 * ```
 */
export type { Corpus, CorpusLevel, CorpusName } from './types';
export type { CorpusOptions } from './load';
export { loadCorpus } from './load';
export type { SplitSentences, VocabularyOptions } from './vocabulary';
export { buildCorpus, END_OF_SENTENCE, UNKNOWN } from './vocabulary';
export type { BrownDocument } from './brown';
export { brownDocuments, parseBrownFile, splitBrownDocuments, stripTag } from './brown';
export { PTB_FILES, parsePtbText, readPtbSplits } from './ptb';
export { CorpusError } from './errors';
