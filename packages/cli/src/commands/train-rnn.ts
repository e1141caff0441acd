import * as fs from 'node:fs';
import { NAMED_RNN_CELLS, parseRnnCell, RnnSpace, type RnnCell } from '@nasrl/spaces';
import { loadCorpus, type CorpusLevel, type CorpusName } from '@nasrl/corpus';
import { trainLanguageModel, type LmCell, type LmTrainOptions } from '@nasrl/child';
import { intFlag, numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { ArchitectureInputError, chooseBackend, fail } from './train';

/** What `nasrl train-arch --space rnn --help` prints. */
export const TRAIN_RNN_USAGE = `usage: nasrl train-arch nascell|lstm|CELL.json --space rnn [--corpus brown|ptb] [--data-dir DIR] [--level word|char]
                          [--max-words N] [--epochs N] [--layers N] [--hidden N] [--embedding N] [--tied] [--dropout P]
                          [--batch-size N] [--steps N] [--learning-rate X] [--decay X] [--decay-after N] [--clip X]
                          [--init-scale X] [--train-tokens N] [--eval-tokens N] [--reward-c X] [--seed N] [--no-test]
                          [--backend NAME] [--json]

Trains one language-model child of the recurrent-cell space (or the LSTM baseline), then prints its validation
perplexity (the best epoch's; the reward is c / perplexity²) and the test perplexity of the final weights.
  ARCH               "nascell" (the published NAS cell), "lstm", or a cell JSON file
                     ({"base": 8, "nodes": [...], "inject": {...}, "memoryOut": 12, "memoryIn": 8}), or
                     the best.json of a \`nasrl local --space rnn\` run (its best cell)
  --corpus NAME      brown (default: embedded, 10,000 words + <unk>, split by document) or ptb (--data-dir
                     holds ptb.train.txt, ptb.valid.txt, ptb.test.txt)
  --level LEVEL      word (default) or char (bits per character are printed too)
  --max-words N      word level: vocabulary size without <unk> (default 10000)
  --epochs N         default 13; --layers N: default 2; --hidden N: default 200; --embedding N: default --hidden
  --tied             the softmax reuses the embedding (needs --embedding = --hidden)
  --dropout P        on non-recurrent connections, default 0
  --batch-size N     parallel streams, default 20; --steps N: truncated BPTT length, default 20
  --learning-rate X  SGD, default 1, times --decay X (default 0.5) per epoch after --decay-after N (default 4)
  --clip X           global gradient norm, default 5; --init-scale X: uniform init range, default 0.1
  --train-tokens N   train on the first N training tokens (default all); --eval-tokens N: the first N
                     validation and test tokens (default all)
  --reward-c X       the reward's c (default 80)
  --no-test          skip the test split
  --backend NAME     TensorFlow.js backend (default NASRL_TF_BACKEND, else the fastest that loads)
  --json             also print one JSON line: validationPerplexity, testPerplexity, curve, tokensPerSecond,
                     seconds, parameters, reward, backend, the corpus's sizes and the options
  --help             print this and exit`;

/** An rnn-space architecture from the command line: a named cell, the LSTM, or a cell JSON file. */
export function readRnnArchitecture(source: string): { cell: LmCell; from: string } {
  if (source === 'lstm') return { cell: { kind: 'lstm' }, from: 'the LSTM baseline' };
  const named = NAMED_RNN_CELLS[source];
  if (named !== undefined) return { cell: { kind: 'rnn', cell: named }, from: `${source} (base ${named.base})` };
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ArchitectureInputError(source, `cannot read (${code ?? (err as Error).message}); give a cell JSON file, ${Object.keys(NAMED_RNN_CELLS).join(', ')} or lstm`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ArchitectureInputError(source, `not JSON (${(err as Error).message})`);
  }
  // A results.jsonl line keeps the cell under "architecture", a best.json under "best.architecture".
  const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const best = record(json) && record(json.best) ? json.best : json;
  const inner = record(best) && 'architecture' in best ? best.architecture : best;
  let cell: RnnCell;
  try {
    cell = parseRnnCell(inner);
  } catch (err) {
    throw new ArchitectureInputError(source, (err as Error).message);
  }
  return { cell: { kind: 'rnn', cell }, from: `${source} (base ${cell.base})` };
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * `nasrl train-arch ARCH --space rnn ...`: trains one language-model child, printing per epoch the training
 * and validation perplexity, then the best validation perplexity, the reward and the test perplexity. With
 * --json the last line is the result as JSON.
 */
export async function trainRnnArchCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(TRAIN_RNN_USAGE);
    return 0;
  }
  try {
    const args = parseArgs(argv, [
      'corpus', 'data-dir', 'level', 'max-words', 'epochs', 'layers', 'hidden', 'embedding', 'dropout', 'batch-size', 'steps', 'learning-rate',
      'decay', 'decay-after', 'clip', 'init-scale', 'train-tokens', 'eval-tokens', 'reward-c', 'seed', 'backend',
    ], ['tied', 'no-test', 'json']);
    if (args.positional.length !== 1) throw new UsageError('expected one architecture: nascell, lstm or CELL.json');
    const input = readRnnArchitecture(args.positional[0] as string);
    const corpusName = stringFlag(args, 'corpus', 'brown');
    if (corpusName !== 'brown' && corpusName !== 'ptb') throw new UsageError(`--corpus: expected brown or ptb, got ${JSON.stringify(corpusName)}`);
    const level = stringFlag(args, 'level', 'word');
    if (level !== 'word' && level !== 'char') throw new UsageError(`--level: expected word or char, got ${JSON.stringify(level)}`);
    const dataDir = stringFlag(args, 'data-dir');
    if (corpusName === 'ptb' && dataDir === undefined) throw new UsageError('--corpus ptb needs --data-dir DIR (the folder of ptb.train.txt, ptb.valid.txt, ptb.test.txt)');
    const hidden = intFlag(args, 'hidden', 200, 1, 100000);
    const withTest = !switchFlag(args, 'no-test');
    const options: LmTrainOptions = {
      epochs: intFlag(args, 'epochs', 13, 1, 100000),
      layers: intFlag(args, 'layers', 2, 1, 64),
      hiddenSize: hidden,
      embeddingSize: intFlag(args, 'embedding', hidden, 1, 100000),
      tied: switchFlag(args, 'tied'),
      dropout: numberFlag(args, 'dropout', 0, 0, 0.99),
      batchSize: intFlag(args, 'batch-size', 20, 1, 65536),
      steps: intFlag(args, 'steps', 20, 1, 10000),
      learningRate: numberFlag(args, 'learning-rate', 1, 1e-9),
      decay: numberFlag(args, 'decay', 0.5, 1e-9, 1),
      decayAfterEpochs: intFlag(args, 'decay-after', 4, 0),
      clipNorm: numberFlag(args, 'clip', 5, 1e-9),
      initScale: numberFlag(args, 'init-scale', 0.1, 1e-9),
      seed: intFlag(args, 'seed', 1, 0),
      trainTokens: args.flags.has('train-tokens') ? intFlag(args, 'train-tokens', 0, 2) : null,
      evaluationTokens: args.flags.has('eval-tokens') ? intFlag(args, 'eval-tokens', 0, 2) : null,
      rewardConstant: numberFlag(args, 'reward-c', 80, 1e-9),
      evaluateTest: withTest,
    };
    const json = switchFlag(args, 'json');
    const backend = await chooseBackend(stringFlag(args, 'backend'));
    process.stdout.write(`architecture: ${input.from}\n`);
    const loadStart = performance.now();
    const corpus = loadCorpus({
      name: corpusName as CorpusName, level: level as CorpusLevel,
      maxWords: intFlag(args, 'max-words', 10_000, 1), ...(dataDir === undefined ? {} : { dataDir }),
    });
    const used = (n: number, cap: number | null | undefined) => (cap === null || cap === undefined ? n : Math.min(n, cap));
    process.stdout.write(
      `${corpus.name} (${corpus.level} level): vocabulary ${count(corpus.vocabularySize)}, ${count(corpus.train.length)} training, ` +
      `${count(corpus.validation.length)} validation, ${count(corpus.test.length)} test tokens; loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
    if (options.trainTokens !== null || options.evaluationTokens !== null) {
      process.stdout.write(`using ${count(used(corpus.train.length, options.trainTokens))} training and ${count(used(corpus.validation.length, options.evaluationTokens))} validation tokens\n`);
    }
    const bits = (ppl: number) => (corpus.level === 'char' ? `  ${Math.log2(ppl).toFixed(3)} bits/char` : '');
    const result = await trainLanguageModel(input.cell, corpus, options, {
      onEpoch: (e) => process.stdout.write(
        `epoch ${e.epoch}/${e.epochs}  train perplexity ${e.trainPerplexity.toFixed(2)}  validation perplexity ${e.validationPerplexity.toFixed(2)}${bits(e.validationPerplexity)}  ` +
        `lr ${e.learningRate.toPrecision(3)}  ${e.tokensPerSecond.toFixed(0)} tokens/s  ${e.seconds.toFixed(1)} s\n`),
    });
    process.stdout.write(`parameters ${count(result.parameters)}\n`);
    process.stdout.write(`validation perplexity ${result.validationPerplexity.toFixed(2)}${bits(result.validationPerplexity)} (best epoch)${result.diverged ? '; training diverged and stopped' : ''}\n`);
    process.stdout.write(`reward ${result.reward.toPrecision(4)} (${options.rewardConstant} / perplexity²)\n`);
    if (result.testPerplexity !== undefined) process.stdout.write(`test perplexity ${result.testPerplexity.toFixed(2)}${bits(result.testPerplexity)} (final weights, evaluated once)\n`);
    process.stdout.write(`trained and evaluated in ${result.seconds.toFixed(1)} s on ${backend}, ${result.tokensPerSecond.toFixed(0)} training tokens/s\n`);
    if (json) {
      const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
      process.stdout.write(`${JSON.stringify({
        space: 'rnn', architecture: input.from, cell: input.cell.kind === 'lstm' ? 'lstm' : new RnnSpace({ base: input.cell.cell.base }).toJSON(input.cell.cell),
        backend, validationPerplexity: finite(result.validationPerplexity), testPerplexity: finite(result.testPerplexity),
        curve: result.curve.map((v) => finite(v)), trainPerplexity: finite(result.trainPerplexity), reward: result.reward, diverged: result.diverged,
        tokensPerSecond: result.tokensPerSecond, seconds: result.seconds, parameters: result.parameters,
        corpus: {
          name: corpus.name, level: corpus.level, vocabulary: corpus.vocabularySize, train: corpus.train.length, validation: corpus.validation.length,
          test: corpus.test.length, trainedOn: used(corpus.train.length, options.trainTokens), evaluatedOn: used(corpus.validation.length, options.evaluationTokens),
        },
        options,
      })}\n`);
    }
    return 0;
  } catch (err) {
    return fail(err, TRAIN_RNN_USAGE);
  }
}
