import * as path from 'node:path';

/** Where the NAS-Bench-201 table lies beside a checkout: ../shared/benchmarks (relative to the repository root). */
export const DEFAULT_NB201_TABLE = path.join('..', 'shared', 'benchmarks', 'nas-bench-201.csv');

/** The REINFORCE settings measured best on the tabular benchmarks (BENCHMARKS.md says what each one did). */
export function tunedReinforce(kind: 'nb201' | 'table') {
  return {
    learningRate: 0.02,
    baselineDecay: 0.9,
    entropyWeight: 0,
    architecturesPerStep: 8,
    rewardScale: kind === 'nb201' ? 0.01 : 1,
    // Powers assume rewards in [0, 1]; a table space's rewards can be on any scale, so they stay linear.
    rewardPower: kind === 'nb201' ? 10 : 1,
    normalizeAdvantages: false,
    policy: { hiddenSize: 35, lstmLayers: 2, temperature: 1, tanhConstant: 0 },
  };
}

/**
 * The strategies that reuse evaluations unless `--reuse` says otherwise: REINFORCE, tuned that way. Random
 * search and regularized evolution pay for every evaluation, the protocol their published figures used.
 */
export const DEFAULT_REUSE: readonly string[] = ['reinforce'];
