import { createSpace, parseExperimentConfig, type ExperimentConfig } from '@nasrl/queue';
import type { ConvSpace } from '@nasrl/spaces';
import { TrainingPool, type PoolResult } from '@nasrl/evaluate';
import { stepRewards } from '@nasrl/controller';
import { seededRandom } from '@nasrl/datasets';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from '../args';
import { convPreset } from '../presets';
import { kendall, mean, median, spearman, standardDeviation } from '../stats';

export const BENCH_PROXY_USAGE = `usage: nasrl bench proxy [--space conv|rnn] [--preset small|paper] [--archs N] [--long-factor F] [--threads T] [--seed S] [--json]

Does the short training a search gives each child rank architectures as a longer training does? Samples N
random architectures of the preset's space (default 30; depths as the depth schedule gives them over the
preset's budget), trains each twice with the search's own settings (training seeds 1 and 2: the seed noise)
and once with F times the training images (default 5, the same epochs, a larger validation sample), and
reports Spearman's rho and Kendall's tau between the proxy (accuracy, and the search's cost-aware reward)
and the longer training's validation accuracy, the median proxy accuracy, and the seed noise against the
spread across architectures. Children train on T threads (default 2) with the workers' evaluator.
With --json the last line is the result as JSON. \`--space rnn\` ranks recurrent cells by perplexity
instead (\`nasrl bench proxy --space rnn --help\`).`;

/** One architecture's three trainings. */
interface ProxyRow {
  readonly key: string;
  readonly layers: number;
  readonly proxy: [PoolResult, PoolResult];
  readonly long: PoolResult;
}

/** The longer setting: F times the training images, the same epochs, and a validation sample of up to 5,000. */
export function longerConfig(config: ExperimentConfig, factor: number, maxTrain: number): ExperimentConfig {
  const t = config.training;
  const subset = t.subset === null ? null : Math.min(maxTrain, t.subset * factor);
  if (subset !== null && t.subset !== null && subset < t.subset * factor) {
    throw new UsageError(`--long-factor ${factor}: ${t.subset * factor} training images asked for, the dataset has ${maxTrain}`);
  }
  const validationSubset = Math.max(t.validationSubset ?? 0, 5000);
  return parseExperimentConfig({ ...config, id: `${config.id}-long`, training: { ...t, subset, validationSubset } });
}

/** `nasrl bench proxy`: see BENCH_PROXY_USAGE. */
export async function benchProxyCommand(argv: string[]): Promise<number> {
  const spaceAt = argv.findIndex((a) => a === '--space' || a.startsWith('--space='));
  if (spaceAt >= 0) {
    const value = argv[spaceAt]?.includes('=') ? argv[spaceAt]?.slice('--space='.length) : argv[spaceAt + 1];
    const rest = argv.filter((_, i) => i !== spaceAt && (argv[spaceAt]?.includes('=') || i !== spaceAt + 1));
    if (value === 'rnn') return (await import('./bench-proxy-rnn')).benchProxyRnnCommand(rest);
    if (value !== 'conv') throw new UsageError(`--space: expected conv or rnn, got ${JSON.stringify(value ?? null)}`);
    argv = rest;
  }
  if (argv.includes('--help')) {
    console.log(BENCH_PROXY_USAGE);
    return 0;
  }
  const args = parseArgs(argv, ['preset', 'archs', 'long-factor', 'threads', 'seed', 'subset', 'epochs'], ['json']);
  if (args.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[0])}`);
  const preset = convPreset(stringFlag(args, 'preset', 'small'));
  const n = intFlag(args, 'archs', 30, 3, 10_000);
  const factor = intFlag(args, 'long-factor', 5, 1, 1000);
  const threads = intFlag(args, 'threads', 2, 1, 256);
  const seed = intFlag(args, 'seed', 1, 0);
  const json = switchFlag(args, 'json');
  const experiment = preset.experiment as Record<string, unknown>;
  const training = { ...(experiment.training as Record<string, unknown>) };
  if (args.flags.has('subset')) training.subset = intFlag(args, 'subset', 0, 10);
  if (args.flags.has('epochs')) training.epochs = intFlag(args, 'epochs', 0, 1);
  const config = parseExperimentConfig({ id: 'bench-proxy', space: 'conv', ...experiment, training });
  const long = longerConfig(config, factor, config.training.dataset === 'fashion-mnist' ? 50_000 : 45_000);
  const space = createSpace(config) as ConvSpace;

  // N distinct random architectures, each at the depth a search of the preset's budget would sample it.
  const random = seededRandom(seed);
  const children: { tokens: number[]; layers: number; arch: unknown; key: string }[] = [];
  const seen = new Set<string>();
  while (children.length < n) {
    const layers = space.depthAfter(Math.floor(random() * config.budgetArchs));
    const tokens = space.tokenSizes(layers).map((choices) => Math.floor(random() * choices));
    const arch = space.decode(tokens, layers);
    const key = space.key(arch);
    if (seen.has(key)) continue;
    seen.add(key);
    children.push({ tokens, layers, arch: space.toJSON(arch), key });
  }
  const t = config.training;
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say(`proxy: ${t.subset ?? 'all'} images × ${t.epochs} epochs, ${t.validationSubset ?? 'default'} validation; ` +
    `longer: ${long.training.subset ?? 'all'} images × ${long.training.epochs} epochs, ${long.training.validationSubset} validation; ` +
    `${n} architectures, ${threads} threads`);
  const started = performance.now();
  const pool = new TrainingPool({ threads });
  let rows: ProxyRow[];
  try {
    let done = 0;
    rows = await Promise.all(children.map(async (c, i) => {
      const child = { tokens: c.tokens, layers: c.layers, arch: c.arch };
      const [a, b, l] = await Promise.all([
        pool.train({ config, child, seed: 1 }),
        pool.train({ config, child, seed: 2 }),
        pool.train({ config: long, child, seed: 1 }),
      ]);
      done++;
      say(`[${done}/${n}] #${i} depth ${c.layers}  proxy ${a.accuracy.toFixed(4)} / ${b.accuracy.toFixed(4)} (${a.seconds.toFixed(1)} s)  ` +
        `longer ${l.accuracy.toFixed(4)} (${l.seconds.toFixed(1)} s)  ${c.key}`);
      return { key: c.key, layers: c.layers, proxy: [a, b], long: l };
    }));
  } finally {
    await pool.close();
  }
  const proxyAccuracy = rows.map((r) => r.proxy[0].accuracy);
  // The reward the search sees: shaped and raised to its power, times the cost factor if there is one (the
  // power changes the ranks when a cost factor multiplies it).
  const proxyReward = stepRewards(config, rows.map((r) => r.proxy[0]));
  const longAccuracy = rows.map((r) => r.long.accuracy);
  const differences = rows.map((r) => r.proxy[0].accuracy - r.proxy[1].accuracy);
  // Each training's noise: the difference of two seeds has twice its variance.
  const seedNoise = Math.sqrt(mean(differences.map((d) => d * d)) / 2);
  const spread = standardDeviation(rows.map((r) => (r.proxy[0].accuracy + r.proxy[1].accuracy) / 2));
  const summary = {
    preset: preset.name,
    architectures: n,
    proxy: { subset: t.subset, validationSubset: t.validationSubset, epochs: t.epochs, meanSeconds: mean(rows.map((r) => (r.proxy[0].seconds + r.proxy[1].seconds) / 2)) },
    longer: { subset: long.training.subset, validationSubset: long.training.validationSubset, epochs: long.training.epochs, meanSeconds: mean(rows.map((r) => r.long.seconds)) },
    spearmanAccuracy: spearman(proxyAccuracy, longAccuracy),
    kendallAccuracy: kendall(proxyAccuracy, longAccuracy),
    spearmanReward: spearman(proxyReward, longAccuracy),
    kendallReward: kendall(proxyReward, longAccuracy),
    spearmanSeeds: spearman(rows.map((r) => r.proxy[0].accuracy), rows.map((r) => r.proxy[1].accuracy)),
    medianProxyAccuracy: median(proxyAccuracy),
    medianLongerAccuracy: median(longAccuracy),
    seedNoise,
    spreadAcrossArchitectures: spread,
    wallSeconds: (performance.now() - started) / 1000,
    rows: rows.map((r) => ({
      key: r.key, layers: r.layers, proxy: [r.proxy[0].accuracy, r.proxy[1].accuracy], longer: r.long.accuracy,
      proxySeconds: r.proxy[0].seconds, longerSeconds: r.long.seconds, parameters: r.long.parameters,
    })),
  };
  say('');
  say(`Spearman's rho, proxy accuracy vs longer training: ${summary.spearmanAccuracy.toFixed(3)}   Kendall's tau: ${summary.kendallAccuracy.toFixed(3)}`);
  say(`Spearman's rho, proxy reward (with the cost factor) vs longer training: ${summary.spearmanReward.toFixed(3)}   Kendall's tau: ${summary.kendallReward.toFixed(3)}`);
  say(`Spearman's rho between the two proxy seeds: ${summary.spearmanSeeds.toFixed(3)}`);
  say(`median proxy validation accuracy ${summary.medianProxyAccuracy.toFixed(4)}, longer ${summary.medianLongerAccuracy.toFixed(4)}`);
  say(`seed noise (std of one proxy training) ${seedNoise.toFixed(4)} vs spread across architectures ${spread.toFixed(4)} (${(seedNoise / spread).toFixed(2)}×)`);
  say(`mean seconds per child: proxy ${summary.proxy.meanSeconds.toFixed(1)}, longer ${summary.longer.meanSeconds.toFixed(1)}; wall ${summary.wallSeconds.toFixed(0)} s`);
  if (json) say(JSON.stringify(summary));
  return 0;
}
