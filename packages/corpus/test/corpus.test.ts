import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { brownDocuments, CorpusError, loadCorpus, parseBrownFile, splitBrownDocuments, stripTag } from '../src';

const words = (ids: Int32Array, vocabulary: readonly string[], from: number, count: number): string =>
  Array.from(ids.subarray(from, from + count), (i) => vocabulary[i]).join(' ');

test('Brown tags are stripped at the last slash and words lower-cased, one sentence a line', () => {
  assert.equal(stripTag('Atlanta\'s/np$'), 'Atlanta\'s');
  assert.equal(stripTag('1/2/cd'), '1/2');
  assert.equal(stripTag('``/``'), '``');
  assert.deepEqual(parseBrownFile('\n\n\tThe/at Jury/nn-tl said/vbd ./.\n\n\n\tIt/pps ran/vbd\n'), [['the', 'jury', 'said', '.'], ['it', 'ran']]);
});

test('the embedded Brown corpus: 500 documents, split by document within each genre, 10,000 words + <unk>', () => {
  const docs = brownDocuments();
  assert.equal(docs.length, 500);
  const tokens = docs.reduce((n, d) => n + d.sentences.reduce((m, s) => m + s.length, 0), 0);
  assert.ok(Math.abs(tokens - 1_161_192) < 1000, `about 1.16 million words (${tokens})`);
  const c = loadCorpus();
  assert.equal(c.level, 'word');
  assert.equal(c.vocabularySize, 10_001);
  assert.equal(c.vocabulary[0], '<unk>');
  assert.ok(c.vocabulary.includes('<eos>'));
  const sentences = docs.reduce((n, d) => n + d.sentences.length, 0);
  assert.equal(c.train.length + c.validation.length + c.test.length, tokens + sentences, 'every word and sentence end is in exactly one split');
  const share = c.train.length / (tokens + sentences);
  assert.ok(share > 0.75 && share < 0.85, `about 80% for training (${share.toFixed(3)})`);
  assert.ok(c.validation.length > 80_000 && c.test.length > 80_000);
  // The first training document is ca01.
  assert.equal(words(c.train, c.vocabulary, 0, 6), 'the fulton county grand jury said');
  // Frequent words keep their ids, rare ones become <unk>: a few percent of validation tokens.
  const unknown = c.validation.reduce((n, id) => n + (id === c.unknownId ? 1 : 0), 0) / c.validation.length;
  assert.ok(unknown > 0.02 && unknown < 0.1, `validation <unk> rate ${unknown.toFixed(3)}`);
  // No document is in two splits: the genres' 9th and 10th of every ten are held out.
  const split = splitBrownDocuments(docs.slice(0, 20).map((d, i) => ({ ...d, sentences: [[`doc${i}`]] })));
  assert.deepEqual(split.validation, [['doc8'], ['doc18']]);
  assert.deepEqual(split.test, [['doc9'], ['doc19']]);
  assert.equal(split.train.length, 16);
});

test('character level: the same text as characters, a sentence ends with a newline', () => {
  const c = loadCorpus({ level: 'char' });
  assert.equal(c.level, 'char');
  assert.ok(c.vocabularySize > 40 && c.vocabularySize < 120, `${c.vocabularySize} characters`);
  assert.equal(Array.from(c.train.subarray(0, 10), (i) => c.vocabulary[i]).join(''), 'the fulton');
  assert.ok(c.train.includes(c.vocabulary.indexOf('\n')));
  assert.ok(c.train.length > 5_000_000);
});

test('Penn Treebank from a folder: the three files, vocabulary from training, unseen words become <unk>', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-ptb-'));
  try {
    writeFileSync(path.join(dir, 'ptb.train.txt'), ' the cat sat \n the <unk> ran \n\n');
    writeFileSync(path.join(dir, 'ptb.valid.txt'), ' the dog sat \n');
    assert.throws(() => loadCorpus({ name: 'ptb', dataDir: dir }), (err: unknown) => err instanceof CorpusError && /ptb\.test\.txt: cannot read \(ENOENT\)/.test(err.message));
    writeFileSync(path.join(dir, 'ptb.test.txt'), '\n');
    assert.throws(() => loadCorpus({ name: 'ptb', dataDir: dir }), /ptb\.test\.txt: holds no sentences/);
    writeFileSync(path.join(dir, 'ptb.test.txt'), ' cat \n');
    const c = loadCorpus({ name: 'ptb', dataDir: dir });
    // Counts: the 2, <eos> 2, then cat ran sat once each (code-point order).
    assert.deepEqual(c.vocabulary, ['<unk>', '<eos>', 'the', 'cat', 'ran', 'sat']);
    assert.equal(words(c.train, c.vocabulary, 0, 8), 'the cat sat <eos> the <unk> ran <eos>');
    assert.equal(words(c.validation, c.vocabulary, 0, 4), 'the <unk> sat <eos>');
    assert.equal(words(c.test, c.vocabulary, 0, 2), 'cat <eos>');
    const limited = loadCorpus({ name: 'ptb', dataDir: dir, maxWords: 2 });
    assert.deepEqual(limited.vocabulary, ['<unk>', '<eos>', 'the']);
    const chars = loadCorpus({ name: 'ptb', dataDir: dir, level: 'char' });
    assert.equal(Array.from(chars.test, (i) => chars.vocabulary[i]).join(''), 'cat\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad corpus options are refused with the option named', () => {
  assert.throws(() => loadCorpus({ name: 'ptb' }), /corpus ptb: needs --data-dir/);
  assert.throws(() => loadCorpus({ name: 'wiki' as 'ptb' }), /corpus: expected "brown" or "ptb", got "wiki"/);
  assert.throws(() => loadCorpus({ level: 'byte' as 'char' }), /corpus level: expected "word" or "char"/);
  assert.throws(() => loadCorpus({ maxWords: 0 }), /maxWords: expected a positive integer or null, got 0/);
});
