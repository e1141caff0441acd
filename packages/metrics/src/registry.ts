import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Buckets of `nasrl_child_reward`: 0..1 by 0.05 for accuracies, then up to 100 for tables in percent. */
export const REWARD_BUCKETS: readonly number[] = [
  0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1,
  2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100,
];

/** Buckets of staleness histograms, in parameter versions. */
export const STALENESS_BUCKETS: readonly number[] = [0, 1, 2, 4, 8, 16, 32, 64, 128];

/**
 * Buckets of `nasrl_child_perplexity`: character-level children sit between 1 and the alphabet's size (about
 * 60), word-level ones between tens and the vocabulary's size (10,000 words).
 */
export const PERPLEXITY_BUCKETS: readonly number[] = [
  1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000,
];

/** Buckets of child training time in seconds: children train for minutes to hours. */
export const TRAINING_SECONDS_BUCKETS: readonly number[] = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/**
 * A registry with prom-client's default process metrics (event-loop lag, CPU, memory) and
 * `nasrl_build_info{service}` = 1; one per process.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'nasrl_build_info',
    help: 'Always 1; the service label names the nasrl service of this process',
    labelNames: ['service'],
    registers: [registry],
  });
  info.set({ service }, 1);
  return registry;
}
