import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Checkpointer, CheckpointStore, CorruptCheckpointError, decodeCheckpoint, encodeCheckpoint, ShardCore, type CheckpointFile, type ShardSnapshot } from '../src/index';
import { collectingLogger, tempDir, wire } from './helpers';

function busyShard(index = 0): ShardCore {
  const s = new ShardCore({ shardIndex: index, shardCount: 2 });
  s.init({ experiment: 'e', tensors: [wire('w', [3], (i) => i), wire('b', [], () => 1)] });
  for (let i = 0; i < 3; i++) {
    s.push({ experiment: 'e', replica: 'r', stepId: `s${i}`, baseVersion: i, gradients: [wire('w', [3], () => 0.1 * i), wire('b', [], () => 1)] });
  }
  return s;
}

test('the checksum catches any flipped byte and truncation', () => {
  const bytes = encodeCheckpoint(busyShard().snapshot(), 1);
  for (const at of [0, 10, Math.floor(bytes.length / 2), bytes.length - 1]) {
    const bad = Buffer.from(bytes);
    bad[at] = (bad[at] as number) ^ 0x40;
    assert.throws(() => decodeCheckpoint(bad, 'f.ckpt'), CorruptCheckpointError, `byte ${at}`);
  }
  assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 5), 'f.ckpt'), /checkpoint f.ckpt is unusable: checksum mismatch/);
  assert.throws(() => decodeCheckpoint(Buffer.from('hello'), 'f.ckpt'), /too short/);
});

test('store: atomic writes, newest first, only the last `keep` files remain, no temp files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const shard = busyShard();
    const store = new CheckpointStore({ dir, shardIndex: 0, keep: 2 });
    for (let i = 0; i < 4; i++) await store.write(shard.snapshot());
    const files = await store.list();
    assert.deepEqual(files.map((f) => f.sequence), [4, 3]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['shard-0000-000000000003.ckpt', 'shard-0000-000000000004.ckpt']);
    // Another shard's files in the same directory are left alone.
    await new CheckpointStore({ dir, shardIndex: 1 }).write(busyShard(1).snapshot());
    assert.equal((await store.list()).length, 2);
    const loaded = await store.loadNewest();
    assert.equal(loaded?.sequence, 4);
    assert.deepEqual(loaded?.skipped, []);
  } finally {
    cleanup();
  }
});

test('store: a corrupt newest checkpoint is skipped with a log line naming it; the next one is restored', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const shard = busyShard();
    const { log, records } = collectingLogger();
    const store = new CheckpointStore({ dir, shardIndex: 0, log });
    await store.write(shard.snapshot());
    const newest = await store.write(shard.snapshot());
    const bytes = fs.readFileSync(newest.file);
    fs.writeFileSync(newest.file, bytes.subarray(0, bytes.length - 100));
    const loaded = await new CheckpointStore({ dir, shardIndex: 0, log }).loadNewest();
    assert.equal(loaded?.sequence, 1);
    assert.deepEqual(loaded?.skipped.map((s) => s.file), [newest.file]);
    const warn = records.find((r) => r.event === 'checkpoint_corrupt');
    assert.equal(warn?.file, newest.file);
    assert.match(String(warn?.message), /checksum mismatch.*skipping it/);
    // All corrupt: nothing to load, and the next write does not reuse a sequence number.
    fs.writeFileSync(path.join(dir, 'shard-0000-000000000001.ckpt'), 'garbage');
    const again = new CheckpointStore({ dir, shardIndex: 0, log });
    assert.equal(await again.loadNewest(), null);
    assert.equal((await again.write(shard.snapshot())).sequence, 3);
  } finally {
    cleanup();
  }
});

test('checkpointer: every N changes, a final one on close, restore logs the restored versions', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { log, records } = collectingLogger();
    const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
    const cp = new Checkpointer(shard, new CheckpointStore({ dir, shardIndex: 0, log }), { everyUpdates: 2, intervalMs: 0, log });
    assert.equal(await cp.restore(), null);
    cp.start();
    shard.init({ experiment: 'e', tensors: [wire('w', [2], () => 1)] });
    shard.push({ experiment: 'e', replica: 'r', stepId: 'a', baseVersion: 0, gradients: [wire('w', [2], () => 1)] });
    await waitFor(() => records.some((r) => r.event === 'checkpoint_written'));
    assert.equal(shard.stats('e')[0]?.checkpointedVersion, 1);
    shard.push({ experiment: 'e', replica: 'r', stepId: 'b', baseVersion: 1, gradients: [wire('w', [2], () => 1)] });
    assert.equal(cp.pendingChanges, 1);
    await Promise.all([cp.close(), cp.close()]);
    assert.equal(cp.pendingChanges, 0);

    const restoredShard = new ShardCore({ shardIndex: 0, shardCount: 1 });
    const restorer = new Checkpointer(restoredShard, new CheckpointStore({ dir, shardIndex: 0, log }), { log });
    const loaded = await restorer.restore();
    assert.ok(loaded);
    assert.deepEqual(restoredShard.pull('e'), shard.pull('e'));
    const line = records.find((r) => r.event === 'checkpoint_restored');
    assert.deepEqual(line?.experiments, [{ experiment: 'e', version: 2, pendingGradients: 0 }]);
  } finally {
    cleanup();
  }
});

test('checkpointer: the interval writes only when something changed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { log, records } = collectingLogger();
    const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
    const cp = new Checkpointer(shard, new CheckpointStore({ dir, shardIndex: 0, log }), { everyUpdates: 0, intervalMs: 20, log });
    cp.start();
    await sleep(60);
    assert.equal(records.filter((r) => r.event === 'checkpoint_written').length, 0);
    shard.init({ experiment: 'e', tensors: [wire('w', [1])] });
    await waitFor(() => records.some((r) => r.event === 'checkpoint_written'));
    await cp.close();
  } finally {
    cleanup();
  }
});

/** A store whose writes wait at a gate until the test opens it, and that counts the writes running at once. */
class GatedStore extends CheckpointStore {
  started = 0;
  running = 0;
  mostRunning = 0;
  private open = false;
  private readonly waiting: (() => void)[] = [];

  override async write(snapshot: ShardSnapshot): Promise<CheckpointFile> {
    this.started++;
    this.mostRunning = Math.max(this.mostRunning, ++this.running);
    try {
      if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
      return await super.write(snapshot);
    } finally {
      this.running--;
    }
  }

  /** Lets the held writes and every later one through. */
  openGate(): void {
    this.open = true;
    for (const release of this.waiting.splice(0)) release();
  }
}

test('checkpointer: overlapping requests are serialised, and one more write after the one in flight holds the latest state', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { log, records } = collectingLogger();
    const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
    shard.init({ experiment: 'e', tensors: [wire('w', [2], () => 1)] });
    const store = new GatedStore({ dir, shardIndex: 0, log });
    const cp = new Checkpointer(shard, store, { everyUpdates: 0, intervalMs: 0, log });
    const first = cp.checkpointNow();
    await waitFor(() => store.started === 1);
    // While the first write is held: a change, then two more requests.
    shard.push({ experiment: 'e', replica: 'r', stepId: 'a', baseVersion: 0, gradients: [wire('w', [2], () => 1)] });
    const later = [cp.checkpointNow(), cp.checkpointNow()];
    await sleep(30);
    assert.equal(store.started, 1, 'no write may start while another is in flight');
    store.openGate();
    await Promise.all([first, ...later]);
    assert.equal(store.mostRunning, 1, 'writes overlapped');
    assert.equal(store.started, 2, 'the requests made during a write are served by one write after it');
    const written = records.filter((r) => r.event === 'checkpoint_written');
    assert.deepEqual(written.map((r) => r.experiments), [{ e: 0 }, { e: 1 }]);
    const newest = await new CheckpointStore({ dir, shardIndex: 0 }).loadNewest();
    assert.equal(newest?.snapshot.experiments[0]?.version, 1, 'the newest checkpoint holds the change made during the first write');
    await cp.close();
  } finally {
    cleanup();
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}
