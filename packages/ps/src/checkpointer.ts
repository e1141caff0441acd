import type { CheckpointFile, CheckpointStore, LoadedCheckpoint } from './checkpoint-store';
import { ParameterServerConfigError } from './errors';
import { silentLogger, type Logger } from './log';
import type { ShardCore } from './shard';

/** When to checkpoint. */
export interface CheckpointerOptions {
  /** Write a checkpoint after this many state changes (applied or accumulated pushes, inits); 0 = never. Default 100. */
  everyUpdates?: number;
  /** Write a checkpoint this often when anything changed; 0 = never. Default 30,000 ms. */
  intervalMs?: number;
  /** Where writes, failures and restores are reported. */
  log?: Logger;
}

/**
 * Keeps a shard's checkpoints current: restores the newest valid one at start, writes periodically (every
 * N changes and/or every T ms) and once more on close. Writes never overlap; a request during a write is
 * served by one more write after it, so the last one always holds the latest state.
 */
export class Checkpointer {
  private readonly everyUpdates: number;
  private readonly intervalMs: number;
  private readonly log: Logger;
  private changes = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly shard: ShardCore, private readonly store: CheckpointStore, o: CheckpointerOptions = {}) {
    this.everyUpdates = o.everyUpdates ?? 100;
    this.intervalMs = o.intervalMs ?? 30_000;
    for (const [k, v] of [['everyUpdates', this.everyUpdates], ['intervalMs', this.intervalMs]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new ParameterServerConfigError(`checkpoint ${k} must be a non-negative integer, got ${v}`);
    }
    this.log = o.log ?? silentLogger;
  }

  /**
   * Loads the newest valid checkpoint into the shard (call before serving). Logs the restored versions: the
   * shard cannot know how many updates it applied after that checkpoint, so operators compare these versions
   * with the last ones the controllers saw.
   */
  async restore(): Promise<LoadedCheckpoint | null> {
    const loaded = await this.store.loadNewest();
    if (!loaded) {
      this.log({ event: 'checkpoint_none', dir: this.store.dir, shard: this.store.shardIndex, message: 'no usable checkpoint; starting empty' });
      return null;
    }
    this.shard.restore(loaded.snapshot);
    this.log({
      event: 'checkpoint_restored',
      file: loaded.file,
      sequence: loaded.sequence,
      writtenAt: loaded.writtenAt,
      skippedCorrupt: loaded.skipped.map((s) => s.file),
      experiments: loaded.snapshot.experiments.map((e) => ({ experiment: e.experiment, version: e.version, pendingGradients: e.pendingGradients })),
      message: 'updates applied after this checkpoint are lost; compare these versions with the last versions the controllers pulled',
    });
    return loaded;
  }

  /** Subscribes to the shard's changes and starts the interval timer. */
  start(): void {
    this.shard.onChange(() => {
      this.changes++;
      if (this.everyUpdates > 0 && this.changes >= this.everyUpdates && !this.closing) void this.checkpointNow().catch(() => undefined);
    });
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.changes > 0) void this.checkpointNow().catch(() => undefined);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Number of state changes not yet in a checkpoint on disk. */
  get pendingChanges(): number {
    return this.changes;
  }

  /** Writes a checkpoint now (after the one in flight, if any); rejects if the write fails. */
  checkpointNow(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = this.writeOnce().finally(() => {
        this.inFlight = null;
      });
      return this.inFlight;
    }
    this.queued ??= this.inFlight.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  /** Stops the timer and writes a final checkpoint if anything changed; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      await (this.queued ?? this.inFlight)?.catch(() => undefined);
      if (this.changes > 0) await this.checkpointNow();
    })();
    return this.closing;
  }

  private next(): Promise<void> {
    this.queued = null;
    return this.checkpointNow();
  }

  private async writeOnce(): Promise<void> {
    const snapshot = this.shard.snapshot();
    const versions = new Map(snapshot.experiments.map((e) => [e.experiment, e.version]));
    const covered = this.changes;
    let written: CheckpointFile;
    try {
      written = await this.store.write(snapshot);
    } catch (e) {
      this.log({ event: 'checkpoint_failed', level: 'error', dir: this.store.dir, message: (e as Error).message });
      throw e;
    }
    this.changes -= covered;
    this.shard.markCheckpointed(versions);
    this.log({ event: 'checkpoint_written', file: written.file, sequence: written.sequence, experiments: Object.fromEntries(versions) });
  }
}
