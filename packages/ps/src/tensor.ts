import * as os from 'node:os';
import { InvalidRequestError } from './errors';

/** A dense float32 tensor with a name and a row-major shape; `data.length` equals the product of `shape`. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A tensor's name and shape without values; what sharding and layout checks look at. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

/** A tensor as it travels on the wire: float32 little-endian bytes. */
export interface WireTensor {
  name: string;
  shape: number[];
  data: Uint8Array;
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';
// Larger than any controller we build (the paper's is ~25k floats) but small enough that a typo in a shape
// cannot make the shard allocate gigabytes.
const MAX_ELEMENTS = 1 << 28;

/** Number of elements of a shape (1 for a scalar `[]`); throws InvalidRequestError for a malformed shape. */
export function elementCount(shape: readonly number[], what = 'tensor'): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === undefined || !Number.isInteger(d) || d < 0) {
      throw new InvalidRequestError(`${what}: shape[${i}] = ${String(d)} is not a non-negative integer`);
    }
    n *= d;
    if (n > MAX_ELEMENTS) throw new InvalidRequestError(`${what}: shape [${shape.join(', ')}] has more than ${MAX_ELEMENTS} elements`);
  }
  return n;
}

/** Encodes float32 values as little-endian bytes (a fresh copy, so later changes to `data` do not leak in). */
export function encodeFloat32(data: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(data.length * 4);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i] as number, i * 4);
  }
  return out;
}

/**
 * The little-endian bytes of `data` without copying where the host is little-endian (a view that aliases
 * `data`: send it before changing `data`); a copy on big-endian hosts.
 */
export function float32BytesView(data: Float32Array): Uint8Array {
  return LITTLE_ENDIAN_HOST ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : encodeFloat32(data);
}

/**
 * Decodes little-endian float32 bytes into `out` (whose length is the expected element count), avoiding an
 * allocation on hot paths; throws InvalidRequestError when the byte length does not match.
 */
export function decodeFloat32Into(bytes: Uint8Array, out: Float32Array, what = 'tensor'): Float32Array {
  const expectedLength = out.length;
  checkByteLength(bytes, expectedLength, what);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < expectedLength; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/**
 * Decodes little-endian float32 bytes into a fresh Float32Array (copied: wire buffers are rarely 4-byte
 * aligned and belong to the transport). Throws InvalidRequestError when the byte length is not
 * `4 * expectedLength`.
 */
export function decodeFloat32(bytes: Uint8Array, expectedLength: number, what = 'tensor'): Float32Array {
  // Checked before allocating, so a bogus shape cannot make us allocate first and fail after.
  checkByteLength(bytes, expectedLength, what);
  return decodeFloat32Into(bytes, new Float32Array(expectedLength), what);
}

function checkByteLength(bytes: Uint8Array, expectedLength: number, what: string): void {
  if (bytes.byteLength !== expectedLength * 4) {
    throw new InvalidRequestError(
      `${what}: data has ${bytes.byteLength} bytes but its shape needs ${expectedLength * 4} (${expectedLength} float32 values)`,
    );
  }
}

/** Index of the first NaN or ±Infinity in `data`, or -1 when all values are finite. */
export function firstNonFinite(data: Float32Array): number {
  // x − x is NaN exactly for NaN and ±Infinity, so the sum of all x − x is 0 unless some value is not
  // finite. Summing four at a time without a branch is about 2.5× faster than testing each value; the slow
  // scan that finds the index runs only for a bad tensor.
  const n = data.length;
  let acc = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = data[i] as number;
    const b = data[i + 1] as number;
    const c = data[i + 2] as number;
    const d = data[i + 3] as number;
    acc += a - a + (b - b) + (c - c) + (d - d);
  }
  for (; i < n; i++) acc += (data[i] as number) - (data[i] as number);
  if (acc === 0) return -1;
  for (let k = 0; k < n; k++) {
    const x = data[k] as number;
    if (x - x !== 0) return k;
  }
  return -1;
}

/** Throws InvalidRequestError naming the tensor and index if `data` contains NaN or ±Infinity. */
export function assertFinite(name: string, data: Float32Array): void {
  const i = firstNonFinite(data);
  if (i >= 0) throw new InvalidRequestError(`tensor '${name}' has a non-finite value (${String(data[i])}) at index ${i}`);
}

/** Converts a named tensor to its wire form, checking that the data length matches the shape. */
export function toWire(t: NamedTensor): WireTensor {
  const n = elementCount(t.shape, `tensor '${t.name}'`);
  if (t.data.length !== n) {
    throw new InvalidRequestError(`tensor '${t.name}': ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${n}`);
  }
  return { name: t.name, shape: [...t.shape], data: encodeFloat32(t.data) };
}

/** Like toWire, but the data aliases `t.data` on little-endian hosts (no copy); send it before changing `t`. */
export function toWireView(t: NamedTensor): WireTensor {
  const n = elementCount(t.shape, `tensor '${t.name}'`);
  if (t.data.length !== n) {
    throw new InvalidRequestError(`tensor '${t.name}': ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${n}`);
  }
  return { name: t.name, shape: [...t.shape], data: float32BytesView(t.data) };
}

/** Converts a wire tensor to a named tensor, validating name, shape and byte length (not finiteness). */
export function fromWire(t: WireTensor): NamedTensor {
  if (typeof t.name !== 'string' || t.name.length === 0) throw new InvalidRequestError('a tensor has an empty name');
  const what = `tensor '${t.name}'`;
  const n = elementCount(t.shape, what);
  return { name: t.name, shape: [...t.shape], data: decodeFloat32(t.data, n, what) };
}

/** True when two shapes have the same rank and dimensions. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Formats a shape as `[2, 35]` for error messages. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
