import * as fs from 'node:fs';
import { parseConvArchitecture } from '@nasrl/spaces';
import type { ConvArchitecture } from '@nasrl/spaces';
import { BACKEND_ORDER, parseBackendPreference, selectBackend } from '@nasrl/tf';
import type { BackendName } from '@nasrl/tf';
import { DATASET_NAMES, loadDataset } from '@nasrl/datasets';
import type { Dataset, DatasetName } from '@nasrl/datasets';
import { REFERENCE_CHILD, trainChild } from '@nasrl/child';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';

const TRAIN_ARCH_USAGE = `usage: nasrl train-arch ARCH.json|reference [--dataset cifar10|fashion-mnist] [--data-dir DIR] [--epochs N]
                          [--subset N] [--batch-size N] [--seed N] [--no-augment] [--backend NAME] [--json]`;

const BENCH_USAGE = `usage: nasrl bench train [--backends wasm,cpu,...] [--steps N] [--cpu-steps N] [--repeats N] [--batch-size N] [--json]`;

function fail(err: unknown, usage?: string): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`nasrl: ${message}\n`);
  if (err instanceof UsageError && usage !== undefined) process.stderr.write(`${usage}\n`);
  return err instanceof UsageError ? 2 : 1;
}

/** Reads ARCH.json (or the reference child) and validates it. */
function readArchitecture(source: string): ConvArchitecture {
  if (source === 'reference') return REFERENCE_CHILD;
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read architecture file ${source}: ${(err as { code?: string }).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source}: not JSON (${(err as Error).message})`);
  }
  return parseConvArchitecture(json);
}

/** The backend: --backend, else NASRL_TF_BACKEND, else auto. */
async function chooseBackend(flag: string | undefined): Promise<string> {
  const preference = parseBackendPreference(flag ?? process.env.NASRL_TF_BACKEND);
  return (await selectBackend(preference)).name;
}

/**
 * `nasrl train-arch ARCH.json|reference ...`: trains one architecture as a worker would, printing the
 * validation curve per epoch and the reward; with --json the last line is the result as JSON.
 */
export async function trainArchCommand(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, ['dataset', 'data-dir', 'epochs', 'subset', 'batch-size', 'seed', 'backend'], ['json', 'no-augment']);
    if (args.positional.length !== 1) throw new UsageError('expected one architecture: a JSON file or "reference"');
    const arch = readArchitecture(args.positional[0] as string);
    const datasetName = stringFlag(args, 'dataset', 'fashion-mnist');
    if (!(DATASET_NAMES as readonly string[]).includes(datasetName)) throw new UsageError(`--dataset: expected one of ${DATASET_NAMES.join(', ')}, got ${JSON.stringify(datasetName)}`);
    const epochs = intFlag(args, 'epochs', 50, 1, 100000);
    const subset = args.flags.has('subset') ? intFlag(args, 'subset', 0, 1) : undefined;
    const batchSize = intFlag(args, 'batch-size', 32, 1, 65536);
    const seed = intFlag(args, 'seed', 1, 0);
    const json = switchFlag(args, 'json');
    const backend = await chooseBackend(stringFlag(args, 'backend'));
    const dataDir = stringFlag(args, 'data-dir');
    const loadStart = performance.now();
    const data = loadDataset({ name: datasetName as DatasetName, ...(dataDir === undefined ? {} : { dataDir }), ...(subset === undefined ? {} : { subset }) });
    process.stdout.write(`${data.name}: ${data.train.count} training, ${data.validation.count} validation images (${data.height}×${data.width}×${data.channels}), loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
    const result = await trainChild(arch, data, { epochs, batchSize, seed, ...(switchFlag(args, 'no-augment') ? { augment: false as const } : {}) }, {
      onEpoch: (e) => process.stdout.write(
        `epoch ${e.epoch}/${e.epochs}  loss ${e.trainLoss.toFixed(4)}  validation accuracy ${e.validationAccuracy.toFixed(4)}  ` +
        `lr ${e.learningRate.toFixed(4)}  ${e.imagesPerSecond.toFixed(0)} images/s  ${e.seconds.toFixed(1)} s\n`),
    });
    process.stdout.write(`parameters ${result.parameters}\n`);
    process.stdout.write(`reward ${result.reward.toFixed(6)} (best validation accuracy of the last epochs ${result.bestValidationAccuracy.toFixed(4)}, cubed)\n`);
    process.stdout.write(`trained in ${result.seconds.toFixed(1)} s on ${backend}\n`);
    if (json) {
      process.stdout.write(`${JSON.stringify({ backend, curve: result.curve, reward: result.reward, bestValidationAccuracy: result.bestValidationAccuracy, seconds: result.seconds })}\n`);
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
    return fail(err, BENCH_USAGE);
  }
}
