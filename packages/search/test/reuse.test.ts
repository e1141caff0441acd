import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Rng } from '@nasrl/controller';
import { Nb201Table, RunState, randomSearch, regularizedEvolution, runProtocol, TableBenchmark, type RunResult, type ReuseOptions, type TabularBenchmark } from '../src';
import { writeSyntheticNb201 } from './synthetic';

// Architectures that differ only in the op on edge 0→1 count as isomorphic here: 3,125 canonical classes of 5,
// whose rows still differ in accuracy, as NAS-Bench-201's isomorphic rows do. 200 evaluations per run.
const csv = writeSyntheticNb201(1000, (ops) => `u${ops.slice(1).join('')}`);

type Strategy = (bench: TabularBenchmark, rng: Rng, options: ReuseOptions) => RunResult;
const STRATEGIES: [string, Strategy][] = [
  ['random search', randomSearch],
  ['evolution', regularizedEvolution],
];
const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7];

/** The synthetic table, with the canonical key of every architecture the search asks it for. */
function recordedTable(): { bench: TabularBenchmark; asked: string[] } {
  const table = Nb201Table.load(csv);
  const asked: string[] = [];
  const bench: TabularBenchmark = {
    name: table.name,
    space: table.space,
    budget: table.budget,
    budgetUnit: table.budgetUnit,
    canonicalKey: (tokens) => table.canonicalKey(tokens),
    evaluate: (tokens) => {
      asked.push(table.canonicalKey(tokens));
      return table.evaluate(tokens);
    },
  };
  return { bench, asked };
}

/** A 4 × 4 table space: 16 architectures, far fewer than a large budget buys. */
function gridFile(): string {
  const file = csv.replace('.csv', `-grid-${Math.random().toString(36).slice(2)}.json`);
  const entries = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) entries.push({ tokens: [`${a}`, `${b}`], reward: a + b, test: 10 * (a + b) });
  writeFileSync(file, JSON.stringify({ name: 'grid', tokens: [{ name: 'a', choices: ['0', '1', '2', '3'] }, { name: 'b', choices: ['0', '1', '2', '3'] }], entries }));
  return file;
}

test('a run counts known architectures in a row and distinct canonical architectures paid for', () => {
  const table = Nb201Table.load(csv);
  const state = new RunState(table);
  const a = [0, 1, 2, 3, 4, 0];
  const isomorphic = [3, 1, 2, 3, 4, 0];
  assert.equal(table.canonicalKey(a), table.canonicalKey(isomorphic));
  assert.ok(state.evaluate(a, false).kind === 'result');
  const paidAgain = state.evaluate(isomorphic, false);
  assert.ok(paidAgain.kind === 'result' && paidAgain.charged, 'without reuse an isomorphic copy is paid for');
  assert.equal(state.knownInARow, 0);
  const free = state.evaluate(isomorphic, true);
  assert.ok(free.kind === 'result' && !free.charged);
  state.evaluate(a, true);
  assert.equal(state.knownInARow, 2);
  state.evaluate([4, 4, 4, 4, 4, 4], true);
  assert.equal(state.knownInARow, 0);
  assert.deepEqual({ evaluations: state.result().evaluations, distinct: state.result().distinct, proposals: state.result().proposals }, { evaluations: 3, distinct: 2, proposals: 5 });
});

for (const [name, strategy] of STRATEGIES) {
  test(`${name} with reuse never pays twice for the same canonical architecture`, () => {
    let free = 0;
    for (const seed of SEEDS) {
      const { bench, asked } = recordedTable();
      const r = strategy(bench, new Rng(seed), { reuseEvaluations: true });
      assert.equal(new Set(asked).size, asked.length, `seed ${seed}: the table was asked twice for one canonical architecture`);
      assert.equal(r.distinct, r.evaluations);
      // The last lookup may be the one the budget could not pay for.
      assert.ok(asked.length - r.evaluations === 0 || asked.length - r.evaluations === 1);
      free += r.proposals - r.evaluations;
    }
    assert.ok(free > 0, 'some proposals were answered from the run for free');
  });

  test(`${name} by default pays for every evaluation; with reuse it evaluates more distinct architectures per budget`, () => {
    let paid = { evaluations: 0, distinct: 0 };
    let reused = { evaluations: 0, distinct: 0 };
    for (const seed of SEEDS) {
      const { bench, asked } = recordedTable();
      const off = strategy(bench, new Rng(seed), {});
      assert.equal(off.evaluations, 200, 'the whole budget is spent, repeats included');
      assert.equal(off.proposals, 201);
      assert.equal(asked.length, 201);
      paid = { evaluations: paid.evaluations + off.evaluations, distinct: paid.distinct + off.distinct };
      const on = strategy(recordedTable().bench, new Rng(seed), { reuseEvaluations: true });
      reused = { evaluations: reused.evaluations + on.evaluations, distinct: reused.distinct + on.distinct };
    }
    assert.ok(paid.distinct < paid.evaluations, `repeats were paid for without reuse (${paid.distinct} distinct of ${paid.evaluations})`);
    assert.ok(reused.distinct > paid.distinct, `reuse: ${reused.distinct} distinct architectures against ${paid.distinct}`);
  });

  test(`${name} with reuse ends when the space is exhausted`, () => {
    const bench = TableBenchmark.load(gridFile(), 1000);
    const r = strategy(bench, new Rng(5), { reuseEvaluations: true });
    assert.ok(r.evaluations <= 16 && r.distinct === r.evaluations, `${r.evaluations} evaluations of 16 architectures`);
    assert.ok(r.proposals >= r.evaluations + 200, 'it stopped after 200 known proposals in a row');
    const impatient = strategy(bench, new Rng(5), { reuseEvaluations: true, patience: 1 });
    assert.equal(impatient.proposals, impatient.evaluations + 1, 'patience 1: the first known proposal ends the run');
    const paying = strategy(bench, new Rng(5), {});
    assert.equal(paying.evaluations, 1000);
    assert.ok(paying.distinct <= 16);
  });
}

test('random search with reuse finds every architecture of a small space', () => {
  const r = randomSearch(TableBenchmark.load(gridFile(), 1000), new Rng(2), { reuseEvaluations: true });
  assert.equal(r.evaluations, 16);
  assert.equal(r.bestTest, 60);
});

test('reuse reaches the worker threads, and the results still do not depend on the thread count', async () => {
  const spec = { benchmark: { kind: 'nb201' as const, file: csv }, strategy: { name: 'random' as const, options: { reuseEvaluations: true } }, runs: 4, seed: 2 };
  const threaded = await runProtocol({ ...spec, threads: 2 });
  assert.deepEqual(threaded, await runProtocol({ ...spec, threads: 0 }));
  for (const r of threaded) {
    assert.equal(r.distinct, r.evaluations);
    assert.ok(r.proposals > r.evaluations + 1);
  }
});

test('patience must be a positive integer', () => {
  const bench = TableBenchmark.load(gridFile(), 10);
  assert.throws(() => randomSearch(bench, new Rng(1), { reuseEvaluations: true, patience: 0 }), /patience: expected a positive integer, got 0/);
  assert.throws(() => regularizedEvolution(bench, new Rng(1), { patience: 1.5 }), /patience: expected a positive integer, got 1.5/);
});
