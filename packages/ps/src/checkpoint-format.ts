import { createHash } from 'node:crypto';
import { CorruptCheckpointError } from './errors';
import type { CompiledAdamOptions } from './optimizer';
import type { ExperimentCounters, ExperimentSnapshot, ShardSnapshot, TensorState } from './shard-types';
import { decodeFloat32, elementCount, encodeFloat32 } from './tensor';

/*
 * Checkpoint file layout (version 1):
 *   8 bytes   magic "NASRLPS\x01"
 *   4 bytes   header length H, uint32 little-endian
 *   H bytes   header, UTF-8 JSON (CheckpointHeader)
 *   body      for each experiment, for each tensor in header order: params, m, v and, when the header says
 *             so, the accumulator; each as little-endian float32 of the tensor's element count
 *   32 bytes  SHA-256 of everything above
 * The checksum catches truncation and bit rot; the JSON header keeps the format readable with `head -c`.
 */

const MAGIC = Buffer.from('NASRLPS\x01', 'latin1');
const DIGEST_BYTES = 32;

interface HeaderTensor {
  name: string;
  shape: number[];
  accumulator: boolean;
}

interface HeaderExperiment {
  experiment: string;
  version: number;
  pendingGradients: number;
  stepFloor: number;
  steps: [string, number][];
  counters: ExperimentCounters;
  /** Absent in checkpoints of shards that did not keep settings per experiment: the shard's own apply. */
  adam?: CompiledAdamOptions | null;
  tensors: HeaderTensor[];
}

interface CheckpointHeader {
  format: 1;
  shardIndex: number;
  shardCount: number;
  sequence: number;
  writtenAt: string;
  experiments: HeaderExperiment[];
}

/** A decoded checkpoint: the shard snapshot plus the sequence number and time it was written. */
export interface DecodedCheckpoint {
  sequence: number;
  writtenAt: string;
  snapshot: ShardSnapshot;
}

/** Serialises a snapshot synchronously into one buffer (so later pushes cannot tear it). */
export function encodeCheckpoint(snapshot: ShardSnapshot, sequence: number, now = new Date()): Buffer {
  const header: CheckpointHeader = {
    format: 1,
    shardIndex: snapshot.shardIndex,
    shardCount: snapshot.shardCount,
    sequence,
    writtenAt: now.toISOString(),
    experiments: snapshot.experiments.map((e) => ({
      experiment: e.experiment,
      version: e.version,
      pendingGradients: e.pendingGradients,
      stepFloor: e.stepFloor,
      steps: e.steps,
      counters: e.counters,
      adam: e.adam,
      tensors: e.tensors.map((t) => ({ name: t.name, shape: t.shape, accumulator: t.accumulator !== null })),
    })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const parts: Buffer[] = [MAGIC, uint32(headerBytes.length), headerBytes];
  for (const e of snapshot.experiments) {
    for (const t of e.tensors) {
      parts.push(encodeFloat32(t.params), encodeFloat32(t.m), encodeFloat32(t.v));
      if (t.accumulator) parts.push(encodeFloat32(t.accumulator));
    }
  }
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  parts.push(hash.digest());
  return Buffer.concat(parts);
}

/** Parses and verifies a checkpoint; throws CorruptCheckpointError naming `file` and the reason. */
export function decodeCheckpoint(bytes: Buffer, file: string): DecodedCheckpoint {
  const fail = (reason: string): never => {
    throw new CorruptCheckpointError(file, reason);
  };
  if (bytes.length < MAGIC.length + 4 + DIGEST_BYTES) fail(`only ${bytes.length} bytes, too short to be a checkpoint`);
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) fail('wrong magic bytes (not a nasrl parameter-server checkpoint, or another format version)');
  const bodyEnd = bytes.length - DIGEST_BYTES;
  const digest = createHash('sha256').update(bytes.subarray(0, bodyEnd)).digest();
  if (!digest.equals(bytes.subarray(bodyEnd))) fail('checksum mismatch (truncated or corrupted file)');
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  if (headerStart + headerLength > bodyEnd) fail(`header length ${headerLength} runs past the end of the file`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.subarray(headerStart, headerStart + headerLength).toString('utf8')) as CheckpointHeader;
  } catch (e) {
    return fail(`header is not JSON: ${(e as Error).message}`);
  }
  checkHeader(header, fail);
  let offset = headerStart + headerLength;
  const take = (n: number, what: string): Float32Array => {
    if (offset + n * 4 > bodyEnd) fail(`${what} runs past the end of the file`);
    const out = decodeFloat32(bytes.subarray(offset, offset + n * 4), n, what);
    offset += n * 4;
    return out;
  };
  const experiments: ExperimentSnapshot[] = header.experiments.map((e) => {
    const tensors: TensorState[] = e.tensors.map((t) => {
      let n = 0;
      try {
        n = elementCount(t.shape, `tensor '${t.name}'`);
      } catch (err) {
        fail(`experiment '${e.experiment}': ${(err as Error).message}`);
      }
      const what = `experiment '${e.experiment}' tensor '${t.name}'`;
      return {
        name: t.name,
        shape: t.shape,
        params: take(n, what),
        m: take(n, `${what} (Adam m)`),
        v: take(n, `${what} (Adam v)`),
        accumulator: t.accumulator ? take(n, `${what} (accumulator)`) : null,
      };
    });
    return {
      experiment: e.experiment,
      version: e.version,
      pendingGradients: e.pendingGradients,
      stepFloor: e.stepFloor,
      steps: e.steps,
      counters: e.counters,
      adam: e.adam ?? null,
      tensors,
    };
  });
  if (offset !== bodyEnd) fail(`${bodyEnd - offset} unexpected bytes after the last tensor`);
  return {
    sequence: header.sequence,
    writtenAt: header.writtenAt,
    snapshot: { shardIndex: header.shardIndex, shardCount: header.shardCount, experiments },
  };
}

function checkHeader(h: CheckpointHeader, fail: (reason: string) => never): void {
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (typeof h !== 'object' || h === null) fail('header is not an object');
  if (h.format !== 1) fail(`unsupported format ${String(h.format)}`);
  if (!isCount(h.shardIndex) || !isCount(h.shardCount) || !isCount(h.sequence)) fail('header lacks shardIndex, shardCount or sequence');
  if (!Array.isArray(h.experiments)) fail('header lacks the experiments list');
  for (const e of h.experiments) {
    const where = `experiment '${String(e?.experiment)}'`;
    if (typeof e?.experiment !== 'string') fail('an experiment has no id');
    if (!isCount(e.version) || !isCount(e.pendingGradients) || !isCount(e.stepFloor)) fail(`${where}: bad version, pendingGradients or stepFloor`);
    if (!Array.isArray(e.steps) || !e.steps.every((s) => Array.isArray(s) && typeof s[0] === 'string' && isCount(s[1]))) fail(`${where}: bad steps list`);
    if (typeof e.counters !== 'object' || e.counters === null) fail(`${where}: no counters`);
    for (const k of ['pushesApplied', 'pushesAccumulated', 'pushesDuplicate', 'pushesRejectedStale', 'pushesRejectedInvalid'] as const) {
      if (!isCount(e.counters[k])) fail(`${where}: counter ${k} is not a count`);
    }
    if (e.adam !== undefined && e.adam !== null) {
      const a = e.adam as unknown as Record<string, unknown>;
      const ok = typeof a === 'object' && ['learningRate', 'beta1', 'beta2', 'epsilon'].every((k) => typeof a[k] === 'number' && Number.isFinite(a[k]));
      if (!ok) fail(`${where}: adam must hold the numbers learningRate, beta1, beta2 and epsilon`);
    }
    if (!Array.isArray(e.tensors)) fail(`${where}: no tensors list`);
    for (const t of e.tensors) {
      if (typeof t?.name !== 'string' || !Array.isArray(t.shape) || typeof t.accumulator !== 'boolean') fail(`${where}: malformed tensor entry`);
    }
  }
}

function uint32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}
