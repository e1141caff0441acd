import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExperimentConfig } from '@nasrl/queue';
import { lastJson } from './helpers';
import { runNasrl } from '../src/testing';
import { longerRnnConfig, spearmanInterval } from '../src/commands/bench-proxy-rnn';

// Tiny children: one layer of 4 units, one epoch over 800 characters (two segments of 20 rows × 20 steps).
const TINY = ['bench', 'proxy', '--space', 'rnn', '--threads', '1', '--hidden', '4', '--epochs', '1', '--train-tokens', '800', '--eval-tokens', '400', '--json'];

interface RnnProxyJson {
  space: string;
  entries: number;
  proxy: { base: number; hiddenSize: number; trainTokens: number; evaluationTokens: number; epochs: number };
  longer: { trainTokens: number; evaluationTokens: number; epochs: number };
  spearmanPerplexity: number;
  spearmanPerplexityInterval95: [number, number] | null;
  kendallPerplexity: number;
  spearmanSeeds: number;
  medianProxyPerplexity: number;
  seedNoiseBits: number;
  spreadAcrossCellsBits: number;
  diverged: number;
  ranks: Record<string, { proxy: number; longer: number }>;
  rows: { name: string; key: string; proxy: (number | null)[]; longer: number | null; parameters: number }[];
}

test('bench proxy --space rnn: random cells, nascell and the LSTM, trained twice as the search does and once longer, ranked by perplexity', { timeout: 300_000 }, async () => {
  const run = await runNasrl([...TINY, '--archs', '3', '--long-factor', '2'], {}, 240_000);
  const r = lastJson<RnnProxyJson>(run);
  assert.equal(r.space, 'rnn');
  assert.equal(r.entries, 5);
  assert.deepEqual(r.rows.map((row) => row.name), ['#0', '#1', '#2', 'nascell', 'lstm']);
  assert.equal(new Set(r.rows.map((row) => row.key)).size, 5, 'the entries are distinct cells');
  assert.ok(r.rows.slice(0, 4).every((row) => row.key.startsWith('rnn8:')));
  assert.equal(r.rows[4]?.key, 'lstm');
  // The proxy is the `nasrl local --space rnn` child with these flags; the longer one has twice the tokens.
  assert.deepEqual(r.proxy, { ...r.proxy, base: 8, hiddenSize: 4, trainTokens: 800, evaluationTokens: 400, epochs: 1 });
  assert.deepEqual(r.longer, { ...r.longer, trainTokens: 1600, evaluationTokens: 800, epochs: 1 });
  // One layer of 4 on 58 characters: embedding 58·4, base-8 cell (8 + 8)·4², softmax 4·58 + 58; LSTM (4 + 4)·16 + 16.
  assert.equal(r.rows[3]?.parameters, 58 * 4 + 16 * 16 + 4 * 58 + 58);
  assert.equal(r.rows[4]?.parameters, 58 * 4 + 8 * 16 + 16 + 4 * 58 + 58);
  for (const row of r.rows) {
    for (const p of [...row.proxy, row.longer]) assert.ok(p === null || (p > 1 && p < 200), `${row.name}: perplexity ${p}`);
  }
  for (const v of [r.spearmanPerplexity, r.kendallPerplexity, r.spearmanSeeds]) assert.ok(v >= -1 && v <= 1, `correlation ${v}`);
  assert.ok(r.spearmanPerplexityInterval95 !== null && r.spearmanPerplexityInterval95[0] <= r.spearmanPerplexity && r.spearmanPerplexity <= r.spearmanPerplexityInterval95[1]);
  assert.ok(r.seedNoiseBits >= 0 && r.spreadAcrossCellsBits > 0);
  assert.ok(r.ranks.nascell && r.ranks.lstm && r.ranks.lstm.proxy >= 1 && r.ranks.lstm.proxy <= 5);
  assert.match(run.stdout, /^Spearman's rho, proxy perplexity vs longer training: -?\d\.\d{3} \(approximate 95% interval/m);
  assert.match(run.stdout, /^seed noise \(std of one proxy training\) \d\.\d{4} vs spread across cells \d\.\d{4} bits per token/m);
});

test('bench proxy --space rnn: a base-2 space leaves the NAS cell out; bad flags are usage errors', { timeout: 300_000 }, async () => {
  const base2 = lastJson<RnnProxyJson>(await runNasrl([...TINY, '--base', '2', '--archs', '3'], {}, 240_000));
  assert.deepEqual(base2.rows.map((row) => row.name), ['#0', '#1', '#2', 'lstm']);
  assert.ok(base2.rows.slice(0, 3).every((row) => row.key.startsWith('rnn2:')));
  assert.deepEqual(base2.longer, { ...base2.longer, trainTokens: 3200, evaluationTokens: 1600 }, 'the longer training has 4× the tokens by default');

  const same = await runNasrl([...TINY, '--long-factor', '1'], {}, 60_000);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /the longer training must train on more/);
  const space = await runNasrl(['bench', 'proxy', '--space', 'graph'], {}, 60_000);
  assert.equal(space.code, 2);
  assert.match(space.stderr, /--space: expected conv or rnn, got "graph"/);
  const help = await runNasrl(['bench', 'proxy', '--space', 'rnn', '--help'], {}, 60_000);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: nasrl bench proxy --space rnn/m);
});

test('longerRnnConfig multiplies the token budgets; spearmanInterval widens with fewer entries', () => {
  const config = parseExperimentConfig({ id: 'p', space: 'rnn', rnn: { trainTokens: 1000, evaluationTokens: 300, epochs: 2 } });
  const long = longerRnnConfig(config, 3, 4);
  assert.deepEqual([long.rnn?.trainTokens, long.rnn?.evaluationTokens, long.rnn?.epochs, long.id], [3000, 900, 4, 'p-long']);
  const all = parseExperimentConfig({ id: 'p', space: 'rnn', rnn: { trainTokens: null, evaluationTokens: null } });
  assert.throws(() => longerRnnConfig(all, 4, all.rnn?.epochs ?? 3), /--long-epochs above --epochs/);
  assert.equal(longerRnnConfig(all, 4, 5).rnn?.trainTokens, null);
  const [lo8, hi8] = spearmanInterval(0.6, 8) ?? [NaN, NaN];
  const [lo30, hi30] = spearmanInterval(0.6, 30) ?? [NaN, NaN];
  assert.ok(lo8 < lo30 && lo30 < 0.6 && 0.6 < hi30 && hi30 < hi8, `${lo8} ${lo30} ${hi30} ${hi8}`);
  assert.ok(lo8 < 0 && lo8 > -0.3, `8 entries: ρ 0.6 is compatible with none (${lo8})`);
  assert.equal(spearmanInterval(0.5, 3), null);
  const [lo1, hi1] = spearmanInterval(1, 5) ?? [NaN, NaN];
  assert.ok(lo1 < 1 && hi1 === 1, `rho 1: ${lo1} to ${hi1}`);
});
