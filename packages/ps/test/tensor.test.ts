import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFloat32, elementCount, encodeFloat32, firstNonFinite, fromWire, InvalidRequestError, toWire } from '../src/index';

test('float32 codec round-trips values bit for bit, little-endian', () => {
  const data = new Float32Array([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, Math.PI]);
  const bytes = encodeFloat32(data);
  assert.equal(bytes.length, data.length * 4);
  assert.equal(bytes.readFloatLE(8), 1.5);
  const back = decodeFloat32(bytes, data.length);
  assert.deepEqual(new Uint8Array(back.buffer), new Uint8Array(data.buffer));
  // An unaligned view (as in a received protobuf buffer) decodes the same.
  const padded = Buffer.concat([Buffer.from([7]), bytes]).subarray(1);
  assert.deepEqual(decodeFloat32(padded, data.length), back);
});

test('decoding a wrong byte length names the tensor and both sizes', () => {
  assert.throws(() => decodeFloat32(Buffer.alloc(10), 3, "tensor 'w'"), (e: unknown) => {
    assert.ok(e instanceof InvalidRequestError);
    assert.match(e.message, /tensor 'w': data has 10 bytes but its shape needs 12/);
    return true;
  });
});

test('shapes: scalars have one element; negative or fractional dimensions are refused', () => {
  assert.equal(elementCount([]), 1);
  assert.equal(elementCount([2, 3, 4]), 24);
  assert.equal(elementCount([0, 5]), 0);
  assert.throws(() => elementCount([2, -1]), /shape\[1\] = -1/);
  assert.throws(() => elementCount([1.5]), /shape\[0\] = 1.5/);
  assert.throws(() => elementCount([1 << 20, 1 << 20]), /more than/);
});

test('non-finite detection finds NaN and both infinities', () => {
  assert.equal(firstNonFinite(new Float32Array([1, 2, 3])), -1);
  assert.equal(firstNonFinite(new Float32Array([1, NaN])), 1);
  assert.equal(firstNonFinite(new Float32Array([Infinity])), 0);
  assert.equal(firstNonFinite(new Float32Array([0, 0, -Infinity])), 2);
});

test('toWire/fromWire keep name and shape and check data length against the shape', () => {
  const t = { name: 'k', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
  assert.deepEqual(fromWire(toWire(t)), t);
  assert.throws(() => toWire({ name: 'k', shape: [3], data: new Float32Array(2) }), /'k': 2 values but shape \[3\] needs 3/);
  assert.throws(() => fromWire({ name: '', shape: [1], data: Buffer.alloc(4) }), /empty name/);
});

test('non-finite detection finds a bad value anywhere: in the unrolled part, in the tail, in a large tensor', () => {
  for (const n of [1, 3, 4, 5, 8, 23820]) {
    for (const at of new Set([0, Math.floor(n / 2), n - 1])) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const data = new Float32Array(n).map((_, i) => Math.sin(i) * 1e30);
        data[at] = bad;
        assert.equal(firstNonFinite(data), at, `n=${n} at=${at} ${bad}`);
      }
    }
    assert.equal(firstNonFinite(new Float32Array(n).map((_, i) => Math.cos(i) * 3e38)), -1, `n=${n} all finite`);
  }
});
