import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CorpusError } from './errors';
import type { SplitSentences } from './vocabulary';

/** Penn Treebank's files as Mikolov distributes them: one sentence a line, words separated by spaces. */
export const PTB_FILES = { train: 'ptb.train.txt', validation: 'ptb.valid.txt', test: 'ptb.test.txt' } as const;

/** Sentences of a PTB text file (blank lines are skipped). */
export function parsePtbText(text: string): string[][] {
  return text.split('\n').map((line) => line.split(/\s+/).filter((w) => w.length > 0)).filter((words) => words.length > 0);
}

/** Reads ptb.train.txt, ptb.valid.txt and ptb.test.txt from `dataDir`; a missing or empty one is a CorpusError naming it. */
export function readPtbSplits(dataDir: string): SplitSentences {
  const read = (file: string): string[][] => {
    const full = path.join(dataDir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CorpusError(`${full}: cannot read (${code ?? (err as Error).message}); the ptb corpus needs ${Object.values(PTB_FILES).join(', ')} in --data-dir`);
    }
    const sentences = parsePtbText(text);
    if (sentences.length === 0) throw new CorpusError(`${full}: holds no sentences`);
    return sentences;
  };
  return { train: read(PTB_FILES.train), validation: read(PTB_FILES.validation), test: read(PTB_FILES.test) };
}
