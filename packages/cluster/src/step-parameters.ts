import type { NamedTensor } from '@nasrl/controller';
import { decodeFloat32, encodeFloat32 } from '@nasrl/ps';

/** The controller parameters a step sampled from, and the shard versions they were pulled at. */
export interface StepParameters {
  readonly versions: readonly number[];
  readonly tensors: readonly NamedTensor[];
}

/** Thrown for a blob that is not a well-formed step-parameters record; the message names what is wrong. */
export class StepParametersFormatError extends Error {
  constructor(message: string) {
    super(`step parameters: ${message}`);
    this.name = 'StepParametersFormatError';
  }
}

const MAGIC = 'NSP1';

/*
 * Layout: "NSP1", a uint32 LE byte length of the header, the header as JSON ({versions, tensors: [{name,
 * shape}]}), then every tensor's values as float32 LE in header order. About 4 bytes per parameter: 95 KB for
 * the paper's controller.
 */

/** Encodes a step's parameters for the experiment store. */
export function encodeStepParameters(p: StepParameters): Buffer {
  const header = Buffer.from(JSON.stringify({ versions: p.versions, tensors: p.tensors.map((t) => ({ name: t.name, shape: t.shape })) }), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(header.length, 4);
  return Buffer.concat([prefix, header, ...p.tensors.map((t) => encodeFloat32(t.data))]);
}

/** Decodes what encodeStepParameters wrote; throws StepParametersFormatError for anything else. */
export function decodeStepParameters(blob: Buffer): StepParameters {
  if (blob.length < 8 || blob.toString('latin1', 0, 4) !== MAGIC) throw new StepParametersFormatError(`does not start with ${MAGIC}`);
  const headerLength = blob.readUInt32LE(4);
  if (8 + headerLength > blob.length) throw new StepParametersFormatError(`header of ${headerLength} bytes runs past the end (${blob.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(blob.toString('utf8', 8, 8 + headerLength));
  } catch (err) {
    throw new StepParametersFormatError(`header is not JSON (${(err as Error).message})`);
  }
  const h = header as { versions?: unknown; tensors?: unknown };
  if (!Array.isArray(h.versions) || !h.versions.every((v) => Number.isInteger(v) && v >= 0)) throw new StepParametersFormatError('versions must be non-negative integers');
  if (!Array.isArray(h.tensors)) throw new StepParametersFormatError('tensors must be a list');
  let at = 8 + headerLength;
  const tensors = h.tensors.map((t: unknown, i: number): NamedTensor => {
    const { name, shape } = (t ?? {}) as { name?: unknown; shape?: unknown };
    if (typeof name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new StepParametersFormatError(`tensor ${i} needs a name and a shape of non-negative integers`);
    }
    const n = (shape as number[]).reduce((a, b) => a * b, 1);
    if (at + 4 * n > blob.length) throw new StepParametersFormatError(`tensor '${name}' needs ${4 * n} bytes, ${blob.length - at} are left`);
    const data = decodeFloat32(blob.subarray(at, at + 4 * n), n, `tensor '${name}'`);
    at += 4 * n;
    return { name, shape: shape as number[], data };
  });
  if (at !== blob.length) throw new StepParametersFormatError(`${blob.length - at} bytes left over after the last tensor`);
  return { versions: h.versions as number[], tensors };
}
