import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { adamStep, compileAdamOptions, InvalidRequestError, MAX_SLICE_VALUES, ShardCapacityError, ShardCore, SliceArena, toGrpcStatus } from '../src/index';

// Sizes that are not multiples of four, so tensors sit next to each other's padding.
const SIZES = [1, 5, 35, 4, 1003, 2];

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}

test('the SIMD Adam step matches the float64 reference on every tensor, padding never leaks', () => {
  const o = compileAdamOptions({ learningRate: 0.01 });
  const rnd = lcg(7);
  const arena = SliceArena.allocate(SIZES);
  const ref = SIZES.map((n) => ({ p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), g: new Float32Array(n) }));
  SIZES.forEach((n, i) => {
    for (let k = 0; k < n; k++) (ref[i]?.p as Float32Array)[k] = rnd();
    arena.tensors[i]?.params.set(ref[i]?.p as Float32Array);
  });
  let worst = 0;
  for (let t = 1; t <= 300; t++) {
    // Gradients of very different magnitudes, and a staleness-like scale on some steps.
    const scale = t % 3 === 0 ? 0.5 : 1;
    SIZES.forEach((n, i) => {
      const r = ref[i] as (typeof ref)[number];
      for (let k = 0; k < n; k++) r.g[k] = rnd() * (k % 2 === 0 ? 1 : 1e-3);
      arena.tensors[i]?.grad.set(r.g);
      adamStep(r.p, r.m, r.v, r.g, t, o, scale);
    });
    arena.adam(t, o, scale);
  }
  SIZES.forEach((n, i) => {
    const a = arena.tensors[i] as (typeof arena.tensors)[number];
    const r = ref[i] as (typeof ref)[number];
    for (let k = 0; k < n; k++) {
      // 300 steps of at most lr each: float32 rounding differs from float64 by far less than one step.
      worst = Math.max(worst, Math.abs((a.params[k] as number) - (r.p[k] as number)));
      assert.ok(Math.abs((a.m[k] as number) - (r.m[k] as number)) <= 1e-6 * Math.max(1, Math.abs(r.m[k] as number)), `m of tensor ${i}[${k}]`);
      assert.ok(Math.abs((a.v[k] as number) - (r.v[k] as number)) <= 1e-5 * Math.abs(r.v[k] as number) + 1e-12, `v of tensor ${i}[${k}]`);
    }
  });
  assert.ok(worst < 1e-4, `largest difference from the float64 reference: ${worst}`);
  // The step moved every value (a kernel that skipped tensors or lanes would leave some untouched).
  SIZES.forEach((_, i) => assert.ok(arena.tensors[i]?.m.every((x) => x !== 0), `tensor ${i} has untouched moments`));
});

test('the finite check finds NaN and infinities in any tensor and at any lane', () => {
  const arena = SliceArena.allocate(SIZES);
  assert.equal(arena.gradientsFinite(), true);
  for (const bad of [NaN, Infinity, -Infinity]) {
    SIZES.forEach((n, i) => {
      for (const k of new Set([0, n - 1, Math.floor(n / 2)])) {
        const g = arena.tensors[i]?.grad as Float32Array;
        g[k] = bad;
        assert.equal(arena.gradientsFinite(), false, `${bad} at tensor ${i}[${k}]`);
        g[k] = 3.4e38;
        assert.equal(arena.gradientsFinite(), true);
        g[k] = 0;
      }
    });
  }
});

test('an arena larger than a shard holds is refused before any memory is reserved', () => {
  assert.throws(() => SliceArena.allocate([MAX_SLICE_VALUES, 4]), (e: unknown) => e instanceof InvalidRequestError && /use more shards/.test(e.message));
  assert.equal(SliceArena.allocate([]).size, 0);
});

test('the embedded kernel module is the assembled slice-kernels.wat', async () => {
  const build = require(path.resolve(__dirname, '../../../../scripts/build-wasm.js')) as { expected(): Promise<{ target: string; text: string }[]> };
  const fs = await import('node:fs');
  for (const { target, text } of await build.expected()) {
    assert.equal(fs.readFileSync(target, 'utf8'), text, `${target} is out of date: run node scripts/build-wasm.js`);
  }
});

test('when no memory can be reserved for a slice, init fails with RESOURCE_EXHAUSTED naming the cause', () => {
  const real = WebAssembly.Memory;
  (WebAssembly as { Memory: unknown }).Memory = class {
    constructor() {
      throw new RangeError('WebAssembly.Memory(): could not allocate memory');
    }
  };
  try {
    const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
    assert.throws(
      () => shard.init({ experiment: 'big', tensors: [{ name: 'w', shape: [3], data: Buffer.alloc(12) }] }),
      (e: unknown) => e instanceof ShardCapacityError && /cannot reserve 65536 bytes .* could not allocate memory.*use more shards/.test(e.message),
    );
    assert.equal(toGrpcStatus(new ShardCapacityError('x')).code, grpcStatus.RESOURCE_EXHAUSTED);
    assert.deepEqual(shard.experimentIds(), [], 'nothing half-created');
  } finally {
    (WebAssembly as { Memory: unknown }).Memory = real;
  }
});
