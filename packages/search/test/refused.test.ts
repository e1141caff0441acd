import { test } from 'node:test';
import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@nasrl/controller';
import { parseTableSpace } from '@nasrl/spaces';
import { reinforceSearch, SearchConfigError, TableBenchmark, type ReinforceSearchOptions } from '../src';

// One decision of four choices; the table has two of them, so half of the uniform proposals are refused.
const space = parseTableSpace(JSON.stringify({
  name: 'half-missing',
  tokens: [{ name: 'op', choices: ['a', 'b', 'c', 'd'] }],
  entries: [{ tokens: ['a'], reward: 0.5, test: 50 }, { tokens: ['b'], reward: 0.4, test: 40 }],
}), 'half-missing.json');

/** Architectures the table lacks that REINFORCE proposed, over 5 seeds, until 150 evaluations were paid each. */
function refusedProposals(options: ReinforceSearchOptions): number {
  let refused = 0;
  for (let seed = 0; seed < 5; seed++) {
    const run = reinforceSearch(new TableBenchmark(space, 150), new Rng(seed), { learningRate: 0.05, architecturesPerStep: 4, maxProposals: 600, ...options });
    refused += run.proposals - run.evaluations;
  }
  return refused;
}

test('REINFORCE on a table gives the missing architectures the refusedReward rule (the cluster rule)', () => {
  const avoided = refusedProposals({ refusedReward: -1 });
  const sought = refusedProposals({ refusedReward: 1 });
  const worst = refusedProposals({});
  // Uniform proposals would refuse one in two: 150 evaluations cost about 150 refusals per run.
  assert.ok(avoided < 0.5 * 5 * 150, `a penalty of -1 teaches the controller to avoid them (${avoided} refused)`);
  assert.ok(sought > 4 * avoided, `a reward of 1, above every tabulated one, draws it to them (${sought} vs ${avoided})`);
  assert.ok(worst < sought, `the default, the worst reward seen (0.4), is below the best (${worst} vs ${sought})`);
  assert.throws(() => reinforceSearch(new TableBenchmark(space, 10), new Rng(0), { refusedReward: Number.NaN }), SearchConfigError);
});
