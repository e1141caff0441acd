/**
 * Redis keys of the store. Every key of one experiment carries the id as a hash tag (`{id}`), so that a Lua
 * script touching several of them stays in one slot on Redis Cluster.
 */
export const KEY_PREFIX = 'nasrl:';

/** The set of experiment ids. */
export const EXPERIMENTS_KEY = `${KEY_PREFIX}experiments`;

/** Key names of one experiment. */
export function experimentKeys(id: string) {
  const base = `${KEY_PREFIX}exp:{${id}}:`;
  return {
    config: `${base}config`,
    baseline: `${base}baseline`,
    baselineSteps: `${base}baseline-steps`,
    worstReward: `${base}worst-reward`,
    sampled: `${base}sampled`,
    results: `${base}results`,
    resultIndex: `${base}result-index`,
    rewards: `${base}rewards`,
    applied: `${base}applied`,
    reservations: `${base}reservations`,
    stopped: `${base}stopped`,
    replicaStep: (replica: number) => `${base}replica:${replica}:step`,
    stepParameters: (stepId: string) => `${base}step-params:${stepId}`,
  };
}
