import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { selectBackend } from '../src';

// The wasm convolution gradients against the JavaScript backend's, on random cases. Dilated cases use the
// identity "conv with dilation d = conv with the filter spread out by zeros" to get a reference from the CPU
// backend, whose own gradients do not take dilations.

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
interface Case {
  x: number[]; // [b, h, w, ci]
  f: number[]; // [kh, kw, ci, co]
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCases(count: number, seed: number): Case[] {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const cases: Case[] = [];
  while (cases.length < count) {
    const kh = int(1, 5), kw = int(1, 5);
    const strides: [number, number] = [int(1, 3), int(1, 3)];
    const dilations: [number, number] = r() < 0.4 ? [int(1, 3), int(1, 2)] : [1, 1];
    const h = int(3, 13), w = int(3, 13);
    const pads: Pad[] = ['same', 'valid', int(0, 2), [[0, 0], [int(0, 3), int(0, 2)], [int(0, 2), int(0, 3)], [0, 0]]];
    const pad = pads[int(0, 3)] as Pad;
    const eh = (kh - 1) * dilations[0] + 1, ew = (kw - 1) * dilations[1] + 1;
    const extra = pad === 'same' ? 1e9 : typeof pad === 'number' ? 2 * pad : pad === 'valid' ? 0 : 0;
    if (pad !== 'same' && (h + extra + (Array.isArray(pad) ? pad[1][0] + pad[1][1] : 0) < eh || w + extra + (Array.isArray(pad) ? pad[2][0] + pad[2][1] : 0) < ew)) continue;
    cases.push({ x: [int(1, 3), h, w, int(1, 5)], f: [kh, kw, 0, int(1, 6)], strides, dilations, pad });
    const c = cases[cases.length - 1] as Case;
    c.f[2] = c.x[3] as number;
  }
  return cases;
}

function values(n: number, r: () => number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = r() * 2 - 1;
  return v;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |a − b| / max |b|: relative to the reference's scale, so values near zero do not dominate. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / Math.max(scale, 1e-12);
}

/** The reference gradients on the CPU backend, through a filter spread out by the dilation. */
function reference(c: Case, x: Float32Array, f: Float32Array, dyShape: number[], dy: Float32Array): { dx: Float32Array; df: Float32Array } {
  const [kh, kw, ci, co] = c.f as [number, number, number, number];
  const [dh, dw] = c.dilations;
  const eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
  const spread = new Float32Array(eh * ew * ci * co);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let k = 0; k < ci * co; k++) {
    spread[((i * dh) * ew + j * dw) * ci * co + k] = f[(i * kw + j) * ci * co + k] as number;
  }
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x as [number, number, number, number]);
    const ft = tf.tensor4d(spread, [eh, ew, ci, co]);
    const dyt = tf.tensor4d(dy, dyShape as [number, number, number, number]);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC' };
    const gx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: ft }, { ...attrs, inputShape: c.x }) as tf.Tensor;
    const gf = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...attrs, filterShape: [eh, ew, ci, co] }) as tf.Tensor;
    const spreadGrad = gf.dataSync();
    const df = new Float32Array(kh * kw * ci * co);
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let k = 0; k < ci * co; k++) {
      df[(i * kw + j) * ci * co + k] = spreadGrad[((i * dh) * ew + j * dw) * ci * co + k] as number;
    }
    return { dx: gx.dataSync() as Float32Array, df };
  });
}

test('wasm Conv2DBackpropFilter and Conv2DBackpropInput agree with the CPU backend to 1e-4 (strides, paddings, dilations, odd shapes)', async () => {
  const cases = randomCases(60, 20240611);
  const r = rng(7);
  const inputs = cases.map((c) => {
    const x = values(size(c.x), r);
    const f = values(size(c.f), r);
    return { c, x, f };
  });
  // Output shapes and reference gradients on the CPU backend.
  await selectBackend('cpu', { log: () => {} });
  const refs = inputs.map(({ c, x, f }) => {
    const outShape = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.strides, c.dilations, c.pad).outShape;
    const dy = values(size(outShape), r);
    return { dy, outShape, ...reference(c, x, f, outShape, dy) };
  });
  await selectBackend('wasm', { log: () => {} });
  const backend = tf.engine().backend;
  const dataBefore = backend.numDataIds();
  let worst = 0;
  inputs.forEach(({ c, x, f }, i) => {
    const ref = refs[i] as (typeof refs)[number];
    const where = JSON.stringify(c);
    tf.tidy(() => {
      const xt = tf.tensor4d(x, c.x as [number, number, number, number]);
      const ft = tf.tensor4d(f, c.f as [number, number, number, number]);
      const dyt = tf.tensor(ref.dy, ref.outShape);
      const attrs = { strides: c.strides, dilations: c.dilations, pad: c.pad, dataFormat: 'NHWC' };
      const df = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...attrs, filterShape: c.f }) as tf.Tensor;
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: ft }, { ...attrs, inputShape: c.x }) as tf.Tensor;
      assert.deepEqual(df.shape, c.f, where);
      assert.deepEqual(dx.shape, c.x, where);
      const ef = relativeError(df.dataSync(), ref.df);
      const ex = relativeError(dx.dataSync(), ref.dx);
      worst = Math.max(worst, ef, ex);
      assert.ok(ef < 1e-4, `filter gradient relative error ${ef} for ${where}`);
      assert.ok(ex < 1e-4, `input gradient relative error ${ex} for ${where}`);
    });
  });
  assert.equal(backend.numDataIds(), dataBefore, 'the kernels free their intermediates');
  assert.ok(worst < 1e-4);
});

test('tf.grad of a strided conv on wasm goes through the registered kernels and matches the CPU backend', async () => {
  const r = rng(11);
  const x = values(2 * 9 * 11 * 3, r), f = values(3 * 5 * 3 * 4, r), dy = values(2 * 5 * 6 * 4, r);
  const run = () => tf.tidy(() => {
    const xt = tf.tensor4d(x, [2, 9, 11, 3]), ft = tf.tensor4d(f, [3, 5, 3, 4]);
    const g = tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))([xt, ft], tf.tensor4d(dy, [2, 5, 6, 4]));
    return g.map((t) => t.dataSync());
  });
  await selectBackend('cpu', { log: () => {} });
  const [cx, cf] = run() as [Float32Array, Float32Array];
  await selectBackend('wasm', { log: () => {} });
  const [wx, wf] = run() as [Float32Array, Float32Array];
  assert.ok(relativeError(wx, cx) < 1e-4);
  assert.ok(relativeError(wf, cf) < 1e-4);
});
