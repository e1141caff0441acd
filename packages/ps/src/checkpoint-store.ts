import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, type DecodedCheckpoint } from './checkpoint-format';
import { CorruptCheckpointError, ParameterServerConfigError } from './errors';
import { silentLogger, type Logger } from './log';
import type { ShardSnapshot } from './shard-types';

/** Options of a checkpoint store. */
export interface CheckpointStoreOptions {
  /** Directory of this shard's checkpoints (created if missing); several shards may share it. */
  dir: string;
  /** The shard whose files this store reads and writes. */
  shardIndex: number;
  /** How many of the newest checkpoint files to keep. Default 3. */
  keep?: number;
  /** Where corrupt files and writes are reported. */
  log?: Logger;
}

/** A checkpoint file on disk. */
export interface CheckpointFile {
  file: string;
  sequence: number;
}

/** The newest valid checkpoint and the corrupt newer ones skipped to reach it. */
export interface LoadedCheckpoint extends DecodedCheckpoint {
  file: string;
  skipped: { file: string; reason: string }[];
}

/**
 * The checkpoint files of one shard in one directory: `shard-<index>-<sequence>.ckpt`, written atomically
 * (temp file, fsync, rename, fsync of the directory) so a crash leaves either the old or the new file, never
 * a torn one; the checksum inside catches what the file system does not.
 */
export class CheckpointStore {
  readonly dir: string;
  readonly shardIndex: number;
  readonly keep: number;
  private readonly log: Logger;
  private readonly pattern: RegExp;
  private nextSequence = -1;

  constructor(o: CheckpointStoreOptions) {
    if (!o.dir) throw new ParameterServerConfigError('checkpoint dir must be a non-empty path');
    const keep = o.keep ?? 3;
    if (!Number.isInteger(keep) || keep < 1) throw new ParameterServerConfigError(`checkpoint keep must be a positive integer, got ${keep}`);
    this.dir = path.resolve(o.dir);
    this.shardIndex = o.shardIndex;
    this.keep = keep;
    this.log = o.log ?? silentLogger;
    this.pattern = new RegExp(`^shard-0*${o.shardIndex}-(\\d+)\\.ckpt$`);
  }

  /** This shard's checkpoint files, newest first. */
  async list(): Promise<CheckpointFile[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: CheckpointFile[] = [];
    for (const name of names) {
      const m = this.pattern.exec(name);
      if (m) out.push({ file: path.join(this.dir, name), sequence: Number(m[1]) });
    }
    return out.sort((a, b) => b.sequence - a.sequence);
  }

  /** Loads the newest checkpoint that verifies, logging and skipping corrupt ones; null when none is usable. */
  async loadNewest(): Promise<LoadedCheckpoint | null> {
    const files = await this.list();
    this.nextSequence = Math.max(this.nextSequence, (files[0]?.sequence ?? 0) + 1);
    const skipped: { file: string; reason: string }[] = [];
    for (const { file } of files) {
      try {
        const decoded = decodeCheckpoint(await fsp.readFile(file), file);
        if (decoded.snapshot.shardIndex !== this.shardIndex) {
          throw new CorruptCheckpointError(file, `it says shard ${decoded.snapshot.shardIndex} but its name says shard ${this.shardIndex}`);
        }
        return { ...decoded, file, skipped };
      } catch (e) {
        const reason = e instanceof CorruptCheckpointError ? e.message : `checkpoint ${file} could not be read: ${(e as Error).message}`;
        this.log({ event: 'checkpoint_corrupt', level: 'warn', file, message: `${reason}; skipping it and trying an older one` });
        skipped.push({ file, reason });
      }
    }
    return null;
  }

  /** Encodes and writes a snapshot atomically, then deletes all but the newest `keep` files; returns the file. */
  async write(snapshot: ShardSnapshot): Promise<CheckpointFile> {
    // Everything up to the encoding is synchronous, so the caller's snapshot of live arrays stays consistent.
    if (this.nextSequence < 0) this.nextSequence = this.newestSequenceSync() + 1;
    const sequence = this.nextSequence++;
    const bytes = encodeCheckpoint(snapshot, sequence);
    await fsp.mkdir(this.dir, { recursive: true });
    const name = `shard-${String(this.shardIndex).padStart(4, '0')}-${String(sequence).padStart(12, '0')}.ckpt`;
    const file = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.${name}.tmp-${process.pid}`);
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    await syncDir(this.dir);
    await this.prune();
    return { file, sequence };
  }

  private newestSequenceSync(): number {
    let newest = 0;
    try {
      for (const name of fs.readdirSync(this.dir)) {
        const m = this.pattern.exec(name);
        if (m) newest = Math.max(newest, Number(m[1]));
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return newest;
  }

  private async prune(): Promise<void> {
    const files = await this.list();
    for (const old of files.slice(this.keep)) await fsp.rm(old.file, { force: true });
    // Temp files of this shard left by a crash mid-write; another live process never shares our shard index.
    const prefix = `.shard-${String(this.shardIndex).padStart(4, '0')}-`;
    for (const name of await fsp.readdir(this.dir)) {
      if (name.startsWith(prefix) && !name.endsWith(`.tmp-${process.pid}`)) await fsp.rm(path.join(this.dir, name), { force: true });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  // A rename is durable only once the directory entry is on disk; some platforms cannot open a directory for
  // fsync, and there the rename alone is the best available.
  let handle;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // not supported here
  } finally {
    await handle?.close();
  }
}
