import { ShardCore, StaleGradientError, type PullResult, type PushInput, type PushResult, type ShardLayout } from '@nasrl/ps';
import type { ParamServerMetrics } from '@nasrl/metrics';

/**
 * A ShardCore that reports each pull and each push's staleness to the metrics (push outcomes and versions are
 * read from stats() on scrape). Observation is attached after construction because the metrics read the shard.
 */
export class InstrumentedShard extends ShardCore {
  private metrics: ParamServerMetrics | null = null;

  /** Starts reporting to `metrics`. */
  observe(metrics: ParamServerMetrics): void {
    this.metrics = metrics;
  }

  override push(input: PushInput): PushResult {
    try {
      const r = super.push(input);
      // A duplicate's staleness is measured from the current version, not from when the step arrived.
      if (r.outcome !== 'duplicate') this.metrics?.pushStaleness(input.experiment, r.staleness);
      return r;
    } catch (e) {
      if (e instanceof StaleGradientError) this.metrics?.pushStaleness(input.experiment, e.staleness);
      throw e;
    }
  }

  override pull(experiment: string, layout?: ShardLayout): PullResult {
    const r = super.pull(experiment, layout);
    this.metrics?.pulled(experiment);
    return r;
  }

  override pullViews(experiment: string, layout?: ShardLayout): PullResult {
    const r = super.pullViews(experiment, layout);
    this.metrics?.pulled(experiment);
    return r;
  }
}
