import * as fs from 'node:fs';
import { parseConvArchitecture } from '@nasrl/spaces';
import type { ConvArchitecture } from '@nasrl/spaces';
import { BACKEND_ORDER, parseBackendPreference, selectBackend } from '@nasrl/tf';
import type { BackendName } from '@nasrl/tf';
import { DATASET_NAMES, loadDataset, withValidationInTraining } from '@nasrl/datasets';
import type { Dataset, DatasetName } from '@nasrl/datasets';
import { REFERENCE_CHILD, trainChild } from '@nasrl/child';
import { intFlag, numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';

/** What `nasrl train-arch --help` prints. */
export const TRAIN_ARCH_USAGE = `usage: nasrl train-arch ARCH|reference [--id CHILD_ID | --line N] [--final] [--dataset fashion-mnist|cifar10|synthetic]
                          [--data-dir DIR] [--epochs N] [--subset N] [--test-subset N] [--no-test] [--batch-size N]
                          [--lr RATE] [--seed N] [--no-augment] [--backend NAME] [--json]
       nasrl train-arch nascell|lstm|CELL.json --space rnn [...]   (a language-model child: --space rnn --help)

Trains one architecture as a worker would, then evaluates it once on the held-out test split that no search
sees (Fashion-MNIST: the last 1,000 images of each class; CIFAR-10: test_batch.bin), and prints both the
validation and the test accuracy.
  ARCH               an architecture JSON file ({"layers": [...]}), a best.json written by nasrl local or
                     nasrl export (its best.architecture), a results.jsonl (the line with the highest reward
                     unless --id or --line picks one) or one results.jsonl line saved as a file;
                     "reference": the 6-layer reference child
  --id CHILD_ID      the results.jsonl line of that child id
  --line N           the results.jsonl line N (1-based)
  --final            train on train + validation together (Fashion-MNIST: 60,000 images) and report the test
                     accuracy after the last epoch; the per-epoch curve is measured on the test split
  --dataset NAME     default fashion-mnist; cifar10 needs --data-dir DIR (the binary version's folder)
  --epochs N         default 50
  --subset N         training images to keep (validation keeps min(full, ⌈N/5⌉)); default all
  --test-subset N    test images to keep; default all (10,000)
  --no-test          skip the test split (not with --final)
  --batch-size N     default 32; --seed N: default 1; --no-augment: no crop and flip
  --lr RATE          initial learning rate of the momentum SGD (cosine decay); default 0.1
  --backend NAME     TensorFlow.js backend (default NASRL_TF_BACKEND, else the fastest that loads)
  --json             also print one JSON line: validationAccuracy (null with --final), testAccuracy, curve,
                     seconds, parameters, backend and the dataset's sizes
  --help             print this and exit`;

/** What `nasrl bench train --help` prints. */
export const BENCH_TRAIN_USAGE = `usage: nasrl bench train [--backends wasm,cpu,...] [--steps N] [--cpu-steps N] [--repeats N] [--batch-size N] [--json]

Training images per second of the reference child on Fashion-MNIST with each TensorFlow.js backend that loads
(median of the repeats, after a warm-up run), and each backend's ratio to the pure JavaScript one.
  --backends LIST    backends to measure (default ${BACKEND_ORDER.join(',')})
  --steps N          training steps (batches) per run (default 10)
  --cpu-steps N      steps per run on the JavaScript backend, some 300 times slower (default 1)
  --repeats N        runs per backend; the median is reported (default 3)
  --batch-size N     default 32
  --json             also print one JSON line: {"<backend>": {"imagesPerSecond": ...}, ...}
  --help             print this and exit`;

/**
 * Thrown when the architecture input (ARCH.json, best.json, results.jsonl) cannot be read or holds no usable
 * architecture. Not retryable: the message names the file, the place and the problem.
 */
export class ArchitectureInputError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ArchitectureInputError';
  }
}

/** Prints a command's error (and, for a usage error, the usage line) and returns its exit code. */
export function fail(err: unknown, usage?: string): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`nasrl: ${message}\n`);
  if (err instanceof UsageError && usage !== undefined) process.stderr.write(`${usage.split('\n\n')[0]}\n`);
  return err instanceof UsageError ? 2 : 1;
}

/** Which results.jsonl line to take: by child id, by line number (1-based), or the highest reward. */
export interface LinePick {
  readonly id?: string;
  readonly line?: number;
}

/** An architecture and where it came from, in words. */
export interface ArchitectureInput {
  readonly architecture: ConvArchitecture;
  readonly from: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isJsonLine(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** parseConvArchitecture, with the file and the field in the message when it fails. */
function parseIn(file: string, where: string, json: unknown): ConvArchitecture {
  try {
    return parseConvArchitecture(json);
  } catch (err) {
    throw new ArchitectureInputError(file, `${where} is not a convolutional architecture: ${(err as Error).message}`);
  }
}

/** The architecture of one results.jsonl line (an object with `architecture`), named for messages. */
function fromResultLine(file: string, line: Record<string, unknown>, where: string): ArchitectureInput {
  const id = typeof line.id === 'string' || typeof line.id === 'number' ? String(line.id) : undefined;
  const reward = typeof line.reward === 'number' ? `, reward ${line.reward.toFixed(4)}` : '';
  return { architecture: parseIn(file, `${where}.architecture`, line.architecture), from: `${where}${id === undefined ? '' : ` (child ${id}${reward})`}` };
}

/** Picks a line of a results.jsonl file's text. */
function fromResults(file: string, text: string, pick: LinePick): ArchitectureInput {
  const lines: { number: number; json: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new ArchitectureInputError(file, `line ${i + 1} is not JSON (${(err as Error).message})`);
    }
    if (!isObject(json)) throw new ArchitectureInputError(file, `line ${i + 1} is not a JSON object`);
    lines.push({ number: i + 1, json });
  });
  let chosen: (typeof lines)[number] | undefined;
  if (pick.line !== undefined) {
    chosen = lines.find((l) => l.number === pick.line);
    if (chosen === undefined) throw new ArchitectureInputError(file, `--line ${pick.line}: no such line (the file has ${lines.length} results, on lines ${lines[0]?.number ?? '-'}..${lines[lines.length - 1]?.number ?? '-'})`);
  } else if (pick.id !== undefined) {
    chosen = lines.find((l) => String(l.json.id) === pick.id);
    if (chosen === undefined) throw new ArchitectureInputError(file, `--id ${pick.id}: no line has that child id (${lines.length} results)`);
  } else {
    for (const l of lines) {
      if (typeof l.json.reward === 'number' && Number.isFinite(l.json.reward) && (chosen === undefined || l.json.reward > (chosen.json.reward as number))) chosen = l;
    }
    if (chosen === undefined) throw new ArchitectureInputError(file, lines.length === 0 ? 'holds no results' : 'no line has a numeric reward; pick one with --id or --line');
  }
  return fromResultLine(file, chosen.json, `line ${chosen.number}`);
}

/**
 * Reads the architecture `source` names: "reference", an architecture JSON file, a best.json (its
 * best.architecture), a results.jsonl file (the line `pick` names, else the highest reward) or one
 * results.jsonl line saved as a file. The architecture is validated by parseConvArchitecture.
 */
export function readArchitecture(source: string, pick: LinePick = {}): ArchitectureInput {
  const picking = pick.id !== undefined || pick.line !== undefined;
  if (source === 'reference') {
    if (picking) throw new UsageError('--id and --line pick a line of a results.jsonl file, not of "reference"');
    return { architecture: REFERENCE_CHILD, from: 'the reference child' };
  }
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ArchitectureInputError(source, code === 'ENOENT' ? 'no such file (expected ARCH.json, best.json, results.jsonl or "reference")' : `unreadable (${code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // Several lines, the first of them JSON on its own: a results.jsonl file.
    if (text.trim().includes('\n') && isJsonLine(text.split('\n').find((l) => l.trim() !== '') ?? '')) return fromResults(source, text, pick);
    throw new ArchitectureInputError(source, `not JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw new ArchitectureInputError(source, 'expected a JSON object (an architecture, a best.json or a results.jsonl line)');
  if ('best' in json) {
    if (picking) throw new UsageError('--id and --line pick a line of a results.jsonl file; this is a best.json');
    if (json.best === null) throw new ArchitectureInputError(source, 'best is null: the experiment had evaluated no architecture when best.json was written');
    if (!isObject(json.best)) throw new ArchitectureInputError(source, 'best: expected an object with an architecture field');
    if (json.best.architecture === undefined) throw new ArchitectureInputError(source, 'best.architecture is missing');
    const id = json.best.id === undefined ? '' : ` (child ${String(json.best.id)}${typeof json.best.accuracy === 'number' ? `, search accuracy ${json.best.accuracy.toFixed(4)}` : ''})`;
    return { architecture: parseIn(source, 'best.architecture', json.best.architecture), from: `best.architecture${id}` };
  }
  if ('architecture' in json) {
    if (pick.line !== undefined && pick.line !== 1) throw new ArchitectureInputError(source, `--line ${pick.line}: the file holds one result, on line 1`);
    if (pick.id !== undefined && String(json.id) !== pick.id) throw new ArchitectureInputError(source, `--id ${pick.id}: the file holds one result, of child ${String(json.id)}`);
    return fromResultLine(source, json, 'line 1');
  }
  if (picking) throw new UsageError('--id and --line pick a line of a results.jsonl file; this is an architecture file');
  return { architecture: parseIn(source, 'the file', json), from: 'the architecture file' };
}

/** The backend: --backend, else NASRL_TF_BACKEND, else auto. */
/** Selects the TensorFlow.js backend from --backend, else NASRL_TF_BACKEND, else the fastest that loads. */
export async function chooseBackend(flag: string | undefined): Promise<string> {
  const preference = parseBackendPreference(flag ?? process.env.NASRL_TF_BACKEND);
  return (await selectBackend(preference)).name;
}

/** An image count with thousands separators: 60,000. */
const count = (n: number) => n.toLocaleString('en-US');

/**
 * `nasrl train-arch ARCH|reference ...`: trains one architecture as a worker would, printing the curve per
 * epoch, then the validation accuracy and the accuracy on the held-out test split (evaluated once, at the
 * end); with --final it trains on train + validation and reports the test accuracy. With --json the last line
 * is the result as JSON.
 */
export async function trainArchCommand(argv: string[]): Promise<number> {
  const space = argv.findIndex((a) => a === '--space' || a.startsWith('--space='));
  if (space >= 0) {
    const value = argv[space]?.includes('=') ? argv[space]?.slice('--space='.length) : argv[space + 1];
    const rest = argv.filter((_, i) => i !== space && (argv[space]?.includes('=') || i !== space + 1));
    if (value === 'rnn') return (await import('./train-rnn')).trainRnnArchCommand(rest);
    if (value !== 'conv') return fail(new UsageError(`--space: expected conv or rnn, got ${JSON.stringify(value ?? null)}`), TRAIN_ARCH_USAGE);
    argv = rest;
  }
  if (argv.includes('--help')) {
    console.log(TRAIN_ARCH_USAGE);
    return 0;
  }
  try {
    const args = parseArgs(argv, ['dataset', 'data-dir', 'epochs', 'subset', 'test-subset', 'batch-size', 'seed', 'backend', 'id', 'line', 'lr'], ['json', 'no-augment', 'final', 'no-test']);
    if (args.positional.length !== 1) throw new UsageError('expected one architecture: ARCH.json, best.json, results.jsonl or "reference"');
    if (args.flags.has('id') && args.flags.has('line')) throw new UsageError('--id and --line both pick a line: give one of them');
    const final = switchFlag(args, 'final');
    const withTest = !switchFlag(args, 'no-test');
    if (final && !withTest) throw new UsageError('--final reports the test accuracy: it cannot go with --no-test');
    if (!withTest && args.flags.has('test-subset')) throw new UsageError('--test-subset sizes the test split that --no-test skips');
    const pickId = stringFlag(args, 'id');
    const pickLine = args.flags.has('line') ? intFlag(args, 'line', 1, 1) : undefined;
    const input = readArchitecture(args.positional[0] as string, { ...(pickId === undefined ? {} : { id: pickId }), ...(pickLine === undefined ? {} : { line: pickLine }) });
    const datasetName = stringFlag(args, 'dataset', 'fashion-mnist');
    if (!(DATASET_NAMES as readonly string[]).includes(datasetName)) throw new UsageError(`--dataset: expected one of ${DATASET_NAMES.join(', ')}, got ${JSON.stringify(datasetName)}`);
    const epochs = intFlag(args, 'epochs', 50, 1, 100000);
    const subset = args.flags.has('subset') ? intFlag(args, 'subset', 0, 1) : undefined;
    const testSubset = args.flags.has('test-subset') ? intFlag(args, 'test-subset', 0, 1) : undefined;
    const batchSize = intFlag(args, 'batch-size', 32, 1, 65536);
    const seed = intFlag(args, 'seed', 1, 0);
    const learningRate = numberFlag(args, 'lr', 0.1, 0, 10);
    if (learningRate === 0) throw new UsageError('--lr: expected a positive learning rate, got 0');
    const json = switchFlag(args, 'json');
    const backend = await chooseBackend(stringFlag(args, 'backend'));
    const dataDir = stringFlag(args, 'data-dir');
    process.stdout.write(`architecture: ${input.from}, ${input.architecture.layers.length} layers\n`);
    const loadStart = performance.now();
    const loaded = loadDataset({
      name: datasetName as DatasetName, test: withTest,
      ...(dataDir === undefined ? {} : { dataDir }), ...(subset === undefined ? {} : { subset }), ...(testSubset === undefined ? {} : { testSubset }),
    });
    const testCount = loaded.test?.count ?? 0;
    process.stdout.write(
      `${loaded.name}: ${count(loaded.train.count)} training, ${count(loaded.validation.count)} validation, ${withTest ? count(testCount) : 'no'} test images ` +
      `(${loaded.height}×${loaded.width}×${loaded.channels}), loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
    const data = final ? withValidationInTraining(loaded) : loaded;
    if (final) process.stdout.write(`final training on ${count(data.train.count)} train+validation images; the curve is the accuracy on the ${count(testCount)} test images\n`);
    const monitored = final ? 'test' : 'validation';
    const result = await trainChild(input.architecture, data, {
      epochs, batchSize, seed, learningRate, evaluateTest: withTest && !final, ...(switchFlag(args, 'no-augment') ? { augment: false as const } : {}),
    }, {
      onEpoch: (e) => process.stdout.write(
        `epoch ${e.epoch}/${e.epochs}  loss ${e.trainLoss.toFixed(4)}  ${monitored} accuracy ${e.validationAccuracy.toFixed(4)}  ` +
        `lr ${e.learningRate.toFixed(4)}  ${e.imagesPerSecond.toFixed(0)} images/s  ${e.seconds.toFixed(1)} s\n`),
    });
    // Under --final the validation split is the test split, so the curve's last point is the test accuracy.
    const last = result.curve[result.curve.length - 1] ?? NaN;
    const validationAccuracy = final ? null : last;
    const testAccuracy = final ? last : result.testAccuracy ?? null;
    process.stdout.write(`parameters ${count(result.parameters)}\n`);
    if (validationAccuracy !== null) {
      process.stdout.write(`validation accuracy ${validationAccuracy.toFixed(4)} (after the last epoch, ${count(loaded.validation.count)} images)\n`);
      process.stdout.write(`best validation accuracy of the last epochs ${result.bestValidationAccuracy.toFixed(4)} (the raw reward a search shapes)\n`);
    }
    if (testAccuracy !== null) {
      const how = final ? `trained on ${count(data.train.count)} train+validation images, ${epochs} epoch${epochs === 1 ? '' : 's'}` : `${count(testCount)} held-out images, evaluated once after the last epoch`;
      process.stdout.write(`test accuracy ${testAccuracy.toFixed(4)} (${how})\n`);
    }
    process.stdout.write(`trained and evaluated in ${result.seconds.toFixed(1)} s on ${backend}\n`);
    if (json) {
      process.stdout.write(`${JSON.stringify({
        architecture: input.from, final, backend, epochs, validationAccuracy, testAccuracy, curve: result.curve, curveSplit: monitored,
        bestValidationAccuracy: final ? null : result.bestValidationAccuracy,
        seconds: result.seconds, parameters: result.parameters,
        dataset: { name: loaded.name, train: loaded.train.count, validation: loaded.validation.count, test: testCount, trainedOn: data.train.count },
      })}\n`);
    }
    return 0;
  } catch (err) {
    return fail(err, TRAIN_ARCH_USAGE);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The first `count` training images of `data` (and a small validation split), without copying. */
function firstImages(data: Dataset, count: number): Dataset {
  const size = data.height * data.width * data.channels;
  const v = Math.min(data.validation.count, 50);
  return {
    ...data,
    train: { images: data.train.images.subarray(0, count * size), labels: data.train.labels.subarray(0, count), count },
    validation: { images: data.validation.images.subarray(0, v * size), labels: data.validation.labels.subarray(0, v), count: v },
  };
}

/**
 * `nasrl bench train`: training images per second of the reference child on Fashion-MNIST for each backend that
 * loads (median of repeats; a warm-up run first), and the ratios to the JavaScript CPU backend. Prints figures,
 * asserts nothing; with --json the last line is `{"<backend>": {"imagesPerSecond": ..}, ...}`.
 */
export async function benchTrainCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_TRAIN_USAGE);
    return 0;
  }
  try {
    const args = parseArgs(argv, ['backends', 'steps', 'cpu-steps', 'repeats', 'batch-size'], ['json']);
    if (args.positional.length > 0) throw new UsageError(`unexpected argument ${args.positional[0]}`);
    const backends = (stringFlag(args, 'backends') ?? BACKEND_ORDER.join(',')).split(',').map((b) => b.trim()).filter((b) => b !== '');
    for (const b of backends) if (!(BACKEND_ORDER as readonly string[]).includes(b)) throw new UsageError(`--backends: unknown backend ${b} (known: ${BACKEND_ORDER.join(', ')})`);
    const steps = intFlag(args, 'steps', 10, 1, 100000);
    // The JavaScript backend is some 300 times slower (0.7 images/s): one step per run keeps it to minutes.
    const cpuSteps = intFlag(args, 'cpu-steps', 1, 1, 100000);
    const repeats = intFlag(args, 'repeats', 3, 1, 1000);
    const batchSize = intFlag(args, 'batch-size', 32, 1, 4096);
    const json = switchFlag(args, 'json');
    const data = loadDataset({ name: 'fashion-mnist', subset: Math.max(10, Math.max(steps, cpuSteps) * batchSize) });
    process.stdout.write(`reference child (6 layers with skip connections) on Fashion-MNIST 28×28, batch ${batchSize}, median of ${repeats}\n`);
    const results: Record<string, { imagesPerSecond: number }> = {};
    for (const name of backends as BackendName[]) {
      try {
        await selectBackend(name, { log: (line) => process.stderr.write(`${line}\n`) });
      } catch (err) {
        process.stdout.write(`${name}: unavailable (${(err as Error).message})\n`);
        continue;
      }
      const n = name === 'cpu' ? cpuSteps : steps;
      const subset = firstImages(data, n * batchSize);
      const options = { epochs: 1, batchSize }; // the dataset's augmentation, as train-arch uses it
      // Warm-up (module compilation, first allocations); the JavaScript backend has nothing to warm.
      if (name !== 'cpu') await trainChild(REFERENCE_CHILD, firstImages(data, batchSize), options);
      const rates: number[] = [];
      for (let r = 0; r < repeats; r++) rates.push((await trainChild(REFERENCE_CHILD, subset, { ...options, seed: r + 1 })).imagesPerSecond);
      const rate = median(rates);
      results[name] = { imagesPerSecond: rate };
      process.stdout.write(`${name}: ${rate.toFixed(1)} images/s (${n * batchSize} images per run; runs ${rates.map((x) => x.toFixed(1)).join(', ')})\n`);
    }
    const cpu = results.cpu?.imagesPerSecond;
    if (cpu !== undefined) {
      for (const [name, r] of Object.entries(results)) if (name !== 'cpu') process.stdout.write(`${name} / cpu: ${(r.imagesPerSecond / cpu).toFixed(1)}×\n`);
    }
    if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
    return Object.keys(results).length > 0 ? 0 : 1;
  } catch (err) {
    return fail(err, BENCH_TRAIN_USAGE);
  }
}
