import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STALENESS_BUCKETS } from './registry';

/** The per-experiment counters a shard keeps (@nasrl/ps ShardCore.stats()), read on scrape. */
export interface ShardStatsSource {
  stats(): readonly {
    readonly experiment: string;
    readonly version: number;
    readonly pushesApplied: number;
    readonly pushesAccumulated: number;
    readonly pushesDuplicate: number;
    readonly pushesRejectedStale: number;
    readonly pushesRejectedInvalid: number;
  }[];
}

/** Options of `paramServerMetrics`. */
export interface ParamServerMetricsOptions {
  /** Epoch milliseconds of the last successful checkpoint (or of the process start before the first). */
  readonly lastCheckpointAtMs: () => number;
  /** Clock in epoch milliseconds. Default Date.now. */
  readonly now?: () => number;
}

/** The parameter server's metrics; push outcomes and versions are read from the shard on scrape. */
export interface ParamServerMetrics {
  /** A push was answered with this staleness (applied, accumulated or rejected as stale). */
  pushStaleness(experiment: string, staleness: number): void;
  /** A pull was served. */
  pulled(experiment: string): void;
}

const OUTCOMES = [
  ['applied', 'pushesApplied'],
  ['accumulated', 'pushesAccumulated'],
  ['duplicate', 'pushesDuplicate'],
  ['rejected_stale', 'pushesRejectedStale'],
  ['rejected_invalid', 'pushesRejectedInvalid'],
] as const;

/** Registers the parameter server's metrics (nasrl_ps_pushes_total, nasrl_ps_parameter_version, ...) on `registry`. */
export function paramServerMetrics(registry: Registry, shard: ShardStatsSource, options: ParamServerMetricsOptions): ParamServerMetrics {
  const registers = [registry];
  const now = options.now ?? Date.now;
  new Counter({
    name: 'nasrl_ps_pushes_total',
    help: 'Gradient pushes this shard answered, by outcome (kept in checkpoints)',
    labelNames: ['experiment', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const s of shard.stats()) for (const [outcome, key] of OUTCOMES) this.inc({ experiment: s.experiment, outcome }, s[key]);
    },
  });
  new Gauge({
    name: 'nasrl_ps_parameter_version',
    help: 'Parameter version of the experiment on this shard',
    labelNames: ['experiment'],
    registers,
    collect() {
      this.reset();
      for (const s of shard.stats()) this.set({ experiment: s.experiment }, s.version);
    },
  });
  new Gauge({
    name: 'nasrl_ps_checkpoint_age_seconds',
    help: 'Seconds since the last successful checkpoint (since the process start before the first)',
    registers,
    collect() {
      this.set(Math.max(0, (now() - options.lastCheckpointAtMs()) / 1000));
    },
  });
  const staleness = new Histogram({ name: 'nasrl_ps_push_staleness', help: 'Staleness (versions) of pushes on arrival', labelNames: ['experiment'], buckets: [...STALENESS_BUCKETS], registers });
  const pulls = new Counter({ name: 'nasrl_ps_pulls_total', help: 'Pulls this shard served', labelNames: ['experiment'], registers });
  return {
    pushStaleness(experiment, s) {
      if (Number.isFinite(s) && s >= 0) staleness.observe({ experiment }, s);
    },
    pulled(experiment) {
      pulls.inc({ experiment });
    },
  };
}
