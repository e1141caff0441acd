import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runNasrl, type CliRun } from '../src/testing';
import { lastJson as lastLine } from './helpers';

// Tiny runs: character level (vocabulary of 58), one layer of 8 units, 2,000 training tokens, one epoch.
const TINY = ['--space', 'rnn', '--level', 'char', '--layers', '1', '--hidden', '8', '--epochs', '1', '--train-tokens', '2000', '--eval-tokens', '400',
  '--batch-size', '4', '--steps', '5', '--backend', 'wasm', '--json'];
const lastJson = (run: CliRun): RnnTrainJson => lastLine<RnnTrainJson>(run);
const nasrl = (args: string[]): Promise<CliRun> => runNasrl(args, {}, 120_000);

interface RnnTrainJson {
  space: string;
  architecture: string;
  cell: unknown;
  validationPerplexity: number;
  testPerplexity: number | null;
  curve: number[];
  reward: number;
  tokensPerSecond: number;
  seconds: number;
  parameters: number;
  corpus: { name: string; level: string; vocabulary: number; trainedOn: number; evaluatedOn: number };
}


test('train-arch --space rnn: nascell, the LSTM and a cell file train on the embedded corpus and report perplexities', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-train-rnn-'));
  try {
    const nas = lastJson(await nasrl(['train-arch', 'nascell', ...TINY]));
    assert.equal(nas.space, 'rnn');
    assert.equal(nas.architecture, 'nascell (base 8)');
    assert.deepEqual(nas.corpus, { ...nas.corpus, name: 'brown', level: 'char', trainedOn: 2000, evaluatedOn: 400 });
    assert.ok(nas.validationPerplexity > 1 && nas.validationPerplexity < nas.corpus.vocabulary, `validation perplexity ${nas.validationPerplexity}`);
    assert.ok(nas.testPerplexity !== null && nas.testPerplexity > 1 && nas.testPerplexity < nas.corpus.vocabulary);
    assert.equal(nas.reward, 80 / nas.validationPerplexity ** 2);
    assert.ok(nas.tokensPerSecond > 0 && nas.seconds > 0);
    // One layer of 8 with base 8: embedding 58·8, (8 + 8)·64 cell weights, softmax 8·58 + 58.
    assert.equal(nas.parameters, 58 * 8 + 16 * 64 + 8 * 58 + 58);
    const lstm = lastJson(await nasrl(['train-arch', 'lstm', ...TINY]));
    assert.equal(lstm.cell, 'lstm');
    assert.equal(lstm.parameters, 58 * 8 + 16 * 32 + 32 + 8 * 58 + 58);
    const file = path.join(dir, 'cell.json');
    const cell = { base: 2, nodes: [{ combination: 'add', activation: 'tanh' }, { combination: 'mul', activation: 'sigmoid' }, { combination: 'add', activation: 'tanh' }], inject: { combination: 'add', activation: 'identity' }, memoryOut: 2, memoryIn: 0 };
    writeFileSync(file, JSON.stringify({ architecture: cell }));
    const small = lastJson(await nasrl(['train-arch', file, ...TINY, '--no-test']));
    assert.equal(small.testPerplexity, null);
    assert.deepEqual(small.cell, { space: 'rnn', ...cell });
    writeFileSync(file, JSON.stringify({ ...cell, memoryIn: 3 }));
    const bad = await nasrl(['train-arch', file, ...TINY]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cell\.json: architecture\.memoryIn: 3 is not a node of this cell \(0\.\.2\)/);
    const space = await nasrl(['train-arch', 'nascell', '--space', 'graph']);
    assert.equal(space.code, 2);
    assert.match(space.stderr, /--space: expected conv or rnn, got "graph"/);
    const help = await nasrl(['train-arch', '--space', 'rnn', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: nasrl train-arch nascell\|lstm\|CELL\.json --space rnn/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
