import { parseExperimentConfig, type ExperimentConfig } from '@nasrl/queue';
import { NAS_CELL, RnnSpace } from '@nasrl/spaces';
import { TrainingPool, type PoolResult } from '@nasrl/evaluate';
import { seededRandom } from '@nasrl/datasets';
import { intFlag, parseArgs, switchFlag, UsageError } from '../args';
import { RNN_LOCAL_FLAGS, rnnLocalExperiment } from './local-rnn';
import { kendall, mean, median, spearman, standardDeviation } from '../stats';

export const BENCH_PROXY_RNN_USAGE = `usage: nasrl bench proxy --space rnn [--archs N] [--long-factor F] [--long-epochs E] [--threads T] [--seed S] [--json]
                         [--base B] [--corpus brown|ptb] [--data-dir DIR] [--level char|word] [--hidden N] [--layers N]
                         [--epochs N] [--train-tokens N|all] [--eval-tokens N|all] [--reward-c X]

Does the short training a \`nasrl local --space rnn\` search gives each language-model child rank recurrent
cells as a longer training does? Samples N random cells of the space (default 20), adds the published NAS
cell (base 8 only) and the LSTM as named entries, trains each twice with the search's own settings (those of
\`nasrl local --space rnn\` with the same flags; training seeds 1 and 2: the seed noise) and once longer: F
times the training and validation tokens (default 4) and E epochs (default: the search's). Reports Spearman's
rho and Kendall's tau between the proxy's and the longer training's validation perplexity (the search's
reward, c / perplexity², ranks as it does), the median perplexities, and the seed noise against the spread across cells in bits per token
(log2 perplexity). Children train on T threads (default 2) with the workers' evaluator.
With --json the last line is the result as JSON.`;

/** One entry's three trainings: a random cell (`#i`), `nascell` or `lstm`. */
interface RnnProxyRow {
  readonly name: string;
  readonly key: string;
  readonly proxy: readonly [PoolResult, PoolResult];
  readonly long: PoolResult;
}

/** The validation perplexity of a training; Infinity for one that diverged. */
export function perplexityOf(r: PoolResult): number {
  return r.perplexity ?? Infinity;
}

/** The longer setting: F times the training and validation tokens (all stays all) and `epochs` epochs. */
export function longerRnnConfig(config: ExperimentConfig, factor: number, epochs: number): ExperimentConfig {
  const r = config.rnn;
  if (r === null) throw new Error(`longerRnnConfig: experiment ${config.id} has space "${config.space}"`);
  const times = (n: number | null): number | null => (n === null ? null : n * factor);
  if (epochs <= r.epochs && (factor === 1 || r.trainTokens === null)) {
    throw new UsageError('the longer training must train on more: give --long-factor above 1 with a token budget (--train-tokens N), or --long-epochs above --epochs');
  }
  return parseExperimentConfig({ ...config, id: `${config.id}-long`, rnn: { ...r, trainTokens: times(r.trainTokens), evaluationTokens: times(r.evaluationTokens), epochs } });
}

/**
 * An approximate 95% interval of Spearman's rho on n pairs: Fisher's z with the standard error
 * sqrt(1.06 / (n − 3)) of Fieller, Hartley and Pearson (1957); null below 4 pairs.
 */
export function spearmanInterval(rho: number, n: number): [number, number] | null {
  if (n < 4 || !Number.isFinite(rho)) return null;
  // z is infinite at |rho| = 1: clamped there, with the bound kept at rho itself.
  const z = Math.atanh(Math.max(-0.999999, Math.min(0.999999, rho)));
  const half = 1.96 * Math.sqrt(1.06 / (n - 3));
  return [Math.min(rho, Math.tanh(z - half)), Math.max(rho, Math.tanh(z + half))];
}

/** `nasrl bench proxy --space rnn`: see BENCH_PROXY_RNN_USAGE. */
export async function benchProxyRnnCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(BENCH_PROXY_RNN_USAGE);
    return 0;
  }
  const args = parseArgs(argv, ['archs', 'long-factor', 'long-epochs', 'threads', 'seed', ...Object.keys(RNN_LOCAL_FLAGS)], ['json']);
  if (args.positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positional[0])}`);
  const n = intFlag(args, 'archs', 20, 3, 10_000);
  const factor = intFlag(args, 'long-factor', 4, 1, 1000);
  const threads = intFlag(args, 'threads', 2, 1, 256);
  const seed = intFlag(args, 'seed', 1, 0);
  const json = switchFlag(args, 'json');
  // The proxy is exactly the child training of `nasrl local --space rnn` with the same flags.
  const config = parseExperimentConfig(rnnLocalExperiment(args, 'bench-proxy-rnn', {}));
  const r = config.rnn;
  if (r === null) throw new Error('bench proxy --space rnn: the experiment has no rnn section');
  const long = longerRnnConfig(config, factor, intFlag(args, 'long-epochs', r.epochs, 1, 10_000));
  const lr = long.rnn ?? r;
  const space = new RnnSpace({ base: r.base });

  // N distinct random cells, then the named ones (the NAS cell is a base-8 cell: only in a base-8 space).
  const random = seededRandom(seed);
  const entries: { name: string; tokens: number[]; arch: unknown; key: string; lstm: boolean }[] = [];
  const seen = new Set<string>();
  while (entries.length < n) {
    const tokens = space.tokenSizes().map((choices) => Math.floor(random() * choices));
    const cell = space.decode(tokens);
    const key = space.key(cell);
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push({ name: `#${entries.length}`, tokens, arch: space.toJSON(cell), key, lstm: false });
  }
  if (r.base === NAS_CELL.base) entries.push({ name: 'nascell', tokens: space.encode(NAS_CELL), arch: space.toJSON(NAS_CELL), key: space.key(NAS_CELL), lstm: false });
  // The LSTM is no cell of the space: the evaluator trains it in place of the tokens it is given.
  entries.push({ name: 'lstm', tokens: [], arch: 'lstm', key: 'lstm', lstm: true });

  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const tokens = (v: number | null): string => (v === null ? 'all' : v.toLocaleString('en-US'));
  say(`proxy: ${r.corpus} ${r.level} level, ${r.layers} × ${r.hiddenSize} units, ${tokens(r.trainTokens)} tokens × ${r.epochs} epochs, ${tokens(r.evaluationTokens)} validation; ` +
    `longer: ${tokens(lr.trainTokens)} tokens × ${lr.epochs} epochs, ${tokens(lr.evaluationTokens)} validation; ` +
    `${n} random base-${r.base} cells${r.base === NAS_CELL.base ? ', nascell' : ' (nascell left out: it is a base-8 cell)'} and lstm, ${threads} threads`);
  const started = performance.now();
  const pool = new TrainingPool({ threads });
  let rows: RnnProxyRow[];
  try {
    let done = 0;
    rows = await Promise.all(entries.map(async (e) => {
      const child = { tokens: e.tokens, layers: 1, arch: e.arch };
      const [a, b, l] = await Promise.all([
        pool.train({ config, child, seed: 1, lstm: e.lstm }),
        pool.train({ config, child, seed: 2, lstm: e.lstm }),
        pool.train({ config: long, child, seed: 1, lstm: e.lstm }),
      ]);
      done++;
      say(`[${done}/${entries.length}] ${e.name}  proxy perplexity ${perplexityOf(a).toFixed(2)} / ${perplexityOf(b).toFixed(2)} (${a.seconds.toFixed(1)} s)  ` +
        `longer ${perplexityOf(l).toFixed(2)} (${l.seconds.toFixed(1)} s)  ${e.key}`);
      return { name: e.name, key: e.key, proxy: [a, b] as const, long: l };
    }));
  } finally {
    await pool.close();
  }
  return report(rows, config, long, { threads, started, json, say });
}

function report(
  rows: readonly RnnProxyRow[], config: ExperimentConfig, long: ExperimentConfig,
  o: { threads: number; started: number; json: boolean; say: (line: string) => void },
): number {
  const say = o.say;
  // Ranks by accuracy (1 / perplexity, 0 for a diverged child) are the ranks by perplexity, with every diverged
  // child tied last. They are the ranks of the search's reward too: c / perplexity², with power 1 and no cost
  // factor in \`nasrl local --space rnn\`.
  const proxyAccuracy = rows.map((r) => r.proxy[0].accuracy);
  const longAccuracy = rows.map((r) => r.long.accuracy);
  // Noise and spread in bits per token (log2 perplexity), over the entries whose three trainings converged.
  const finite = rows.filter((r) => [r.proxy[0], r.proxy[1], r.long].every((t) => Number.isFinite(perplexityOf(t))));
  const bits = (t: PoolResult): number => Math.log2(perplexityOf(t));
  const differences = finite.map((r) => bits(r.proxy[0]) - bits(r.proxy[1]));
  // Each training's noise: the difference of two seeds has twice its variance.
  const seedNoiseBits = Math.sqrt(mean(differences.map((d) => d * d)) / 2);
  const spreadBits = standardDeviation(finite.map((r) => (bits(r.proxy[0]) + bits(r.proxy[1])) / 2));
  const spearmanPerplexity = spearman(proxyAccuracy, longAccuracy);
  const rank = (values: readonly number[], name: string): number | null => {
    const i = rows.findIndex((r) => r.name === name);
    return i < 0 ? null : values.filter((v) => v > (values[i] as number)).length + 1;
  };
  const rc = config.rnn;
  const lrc = long.rnn;
  const summary = {
    space: 'rnn',
    entries: rows.length,
    proxy: { ...rc, meanSeconds: mean(rows.map((r) => (r.proxy[0].seconds + r.proxy[1].seconds) / 2)) },
    longer: { trainTokens: lrc?.trainTokens ?? null, evaluationTokens: lrc?.evaluationTokens ?? null, epochs: lrc?.epochs, meanSeconds: mean(rows.map((r) => r.long.seconds)) },
    spearmanPerplexity,
    spearmanPerplexityInterval95: spearmanInterval(spearmanPerplexity, rows.length),
    kendallPerplexity: kendall(proxyAccuracy, longAccuracy),
    spearmanSeeds: spearman(proxyAccuracy, rows.map((r) => r.proxy[1].accuracy)),
    spearmanMeanOfSeeds: spearman(rows.map((r) => (r.proxy[0].accuracy + r.proxy[1].accuracy) / 2), longAccuracy),
    medianProxyPerplexity: median(rows.map((r) => perplexityOf(r.proxy[0]))),
    medianLongerPerplexity: median(rows.map((r) => perplexityOf(r.long))),
    diverged: rows.length - finite.length,
    seedNoiseBits,
    spreadAcrossCellsBits: spreadBits,
    spreadAcrossCellsLongerBits: standardDeviation(finite.map((r) => bits(r.long))),
    ranks: Object.fromEntries(['nascell', 'lstm'].filter((name) => rank(proxyAccuracy, name) !== null)
      .map((name) => [name, { proxy: rank(proxyAccuracy, name), longer: rank(longAccuracy, name) }])),
    threads: o.threads,
    wallSeconds: (performance.now() - o.started) / 1000,
    rows: rows.map((r) => ({
      name: r.name, key: r.key, proxy: [perplexityOf(r.proxy[0]), perplexityOf(r.proxy[1])].map((p) => (Number.isFinite(p) ? p : null)),
      longer: Number.isFinite(perplexityOf(r.long)) ? perplexityOf(r.long) : null,
      proxySeconds: r.proxy[0].seconds, longerSeconds: r.long.seconds, parameters: r.long.parameters,
    })),
  };
  const interval = summary.spearmanPerplexityInterval95;
  say('');
  say(`Spearman's rho, proxy perplexity vs longer training: ${spearmanPerplexity.toFixed(3)}` +
    `${interval ? ` (approximate 95% interval ${interval[0].toFixed(2)} to ${interval[1].toFixed(2)} on ${rows.length} entries)` : ''}   Kendall's tau: ${summary.kendallPerplexity.toFixed(3)}`);
  say(`Spearman's rho, the mean of both proxy seeds vs longer training: ${summary.spearmanMeanOfSeeds.toFixed(3)}`);
  say(`Spearman's rho between the two proxy seeds: ${summary.spearmanSeeds.toFixed(3)}`);
  say(`median validation perplexity: proxy ${summary.medianProxyPerplexity.toFixed(2)}, longer ${summary.medianLongerPerplexity.toFixed(2)}; ${summary.diverged} diverged`);
  say(`seed noise (std of one proxy training) ${seedNoiseBits.toFixed(4)} vs spread across cells ${spreadBits.toFixed(4)} bits per token (${(seedNoiseBits / spreadBits).toFixed(2)}×)`);
  for (const [name, r] of Object.entries(summary.ranks)) say(`${name}: rank ${r.proxy} of ${rows.length} by the proxy, ${r.longer} by the longer training`);
  say(`mean seconds per child: proxy ${summary.proxy.meanSeconds.toFixed(1)}, longer ${summary.longer.meanSeconds.toFixed(1)}; wall ${summary.wallSeconds.toFixed(0)} s`);
  if (o.json) say(JSON.stringify(summary));
  return 0;
}
