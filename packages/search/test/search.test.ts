import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@nasrl/controller';
import { SpaceFileError } from '@nasrl/spaces';
import { Nb201Table, RunState, randomSearch, regularizedEvolution, reinforceSearch, runProtocol, summarize, TableBenchmark } from '../src';
import { writeSyntheticNb201, SYNTHETIC_BEST_VALID } from './synthetic';

const csv = writeSyntheticNb201();

test('the NAS-Bench-201 table loads and charges 12/200 of the 200-epoch time per evaluation', () => {
  const table = Nb201Table.load(csv);
  const r = table.evaluate([3, 3, 3, 3, 3, 3]);
  assert.ok(r);
  assert.equal(r.reward, SYNTHETIC_BEST_VALID + 0.01 * ((3 * (1 + 5 + 25 + 125 + 625 + 3125)) % 7));
  assert.equal(r.cost, 60);
  assert.equal(table.budget, 12000);
});

test('a malformed NAS-Bench-201 file gets an error naming the file, line and column', () => {
  const text = readFileSync(csv, 'utf8').split('\n');
  const write = (lines: string[]): string => {
    const f = csv.replace('.csv', `-bad-${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(f, lines.join('\n'));
    return f;
  };
  const badNumber = [...text];
  badNumber[5] = (badNumber[5] as string).replace(/,[0-9.]+,/, ',abc,');
  assert.throws(() => Nb201Table.load(write(badNumber)), (e: unknown) => e instanceof SpaceFileError && /line 6: column cifar10_valid_12ep is not a number/.test(e.message));
  assert.throws(() => Nb201Table.load(write(text.slice(0, 100))), /expected 15625 architectures, found 99/);
  assert.throws(() => Nb201Table.load(write(['index,arch', ...text.slice(1)])), /line 1: missing column "cifar10_valid_12ep"/);
  const dup = [...text];
  dup[3] = (dup[2] as string).replace(/^\d+/, '2');
  assert.throws(() => Nb201Table.load(write(dup)), /line 4: architecture .* appears twice/);
  assert.throws(() => Nb201Table.load('/nonexistent/nb201.csv'), /\/nonexistent\/nb201\.csv: cannot read the NAS-Bench-201 table \(ENOENT\)/);
});

test('a run ends when the next evaluation would exceed the budget, and reuse is free', () => {
  const table = Nb201Table.load(csv, 150);
  const state = new RunState(table);
  assert.equal(state.evaluate([0, 0, 0, 0, 0, 0], false).kind, 'result');
  const again = state.evaluate([0, 0, 0, 0, 0, 0], true);
  assert.ok(again.kind === 'result' && !again.charged);
  assert.equal(state.evaluate([1, 0, 0, 0, 0, 0], false).kind, 'result');
  assert.equal(state.evaluate([2, 0, 0, 0, 0, 0], false).kind, 'exhausted');
  assert.equal(state.result().evaluations, 2);
  assert.equal(state.result().spent, 120);
});

test('random search spends the budget; evolution and REINFORCE beat it on a learnable landscape', async () => {
  await tf.setBackend('cpu');
  const table = Nb201Table.load(csv);
  const runs = 8;
  const mean = (f: (rng: Rng) => number): number => {
    let total = 0;
    for (let k = 0; k < runs; k++) total += f(new Rng(100 + k));
    return total / runs;
  };
  const random = mean((rng) => {
    const r = randomSearch(table, rng);
    assert.equal(r.evaluations, 200);
    return r.bestReward;
  });
  const evolution = mean((rng) => regularizedEvolution(table, rng).bestReward);
  const reinforce = mean((rng) => reinforceSearch(table, rng, { learningRate: 0.03, architecturesPerStep: 8, rewardScale: 0.01, reuseEvaluations: true }).bestReward);
  assert.ok(evolution > random, `evolution ${evolution} vs random ${random}`);
  assert.ok(reinforce > random, `reinforce ${reinforce} vs random ${random}`);
});

test('protocol results do not depend on the number of threads', async () => {
  const spec = { benchmark: { kind: 'nb201' as const, file: csv }, strategy: { name: 'evolution' as const }, runs: 6, seed: 3 };
  const inline = await runProtocol({ ...spec, threads: 0 });
  const threaded = await runProtocol({ ...spec, threads: 2 });
  assert.deepEqual(threaded, inline);
  const s = summarize(inline);
  assert.equal(s.runs, 6);
  assert.ok(Number.isFinite(s.mean) && s.std >= 0);
});

test('a table space benchmark counts its budget in evaluations', () => {
  const file = csv.replace('.csv', '-space.json');
  const entries = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) entries.push({ tokens: [`${a}`, `${b}`], reward: a + b, test: 10 * (a + b) });
  writeFileSync(file, JSON.stringify({ name: 'grid', tokens: [{ name: 'a', choices: ['0', '1', '2', '3'] }, { name: 'b', choices: ['0', '1', '2', '3'] }], entries }));
  const bench = TableBenchmark.load(file, 5);
  const r = randomSearch(bench, new Rng(1));
  assert.equal(r.evaluations, 5);
  assert.equal(r.bestTest, 10 * r.bestReward);
});
