import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelBackend, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

// The wasm backend has no Conv2DBackpropFilter kernel, and its Conv2DBackpropInput is a plain loop about ten
// times slower than its XNNPACK Conv2D. Both gradients are rewritten here as one XNNPACK convolution each, with
// the layout moves (pad, slice, transpose, reverse) done by kernels the backend has.

type Pair = [number, number];

/** Runs a kernel of `backend` directly, without the engine (no tape, no tracking): intermediates are ours to free. */
class KernelRunner {
  private readonly temporaries: TensorInfo[] = [];
  constructor(private readonly backend: KernelBackend, private readonly backendName: string) {}

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
    const kernel = tf.getKernel(kernelName, this.backendName);
    if (kernel === undefined) throw new Error(`nasrl gradient kernels: backend ${this.backendName} has no ${kernelName} kernel`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend }) as TensorInfo | TensorInfo[];
    const info = Array.isArray(out) ? (out[0] as TensorInfo) : out;
    this.temporaries.push(info);
    return info;
  }

  /** Frees every intermediate except `result` (the kernel's output) and returns it. */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.temporaries) if (t !== result) this.backend.disposeData(t.dataId);
    this.temporaries.length = 0;
    return result;
  }

  /** Frees every intermediate (after a failure). */
  abandon(): void {
    for (const t of this.temporaries) this.backend.disposeData(t.dataId);
    this.temporaries.length = 0;
  }

  /**
   * Pads (positive amounts) or crops (negative amounts) height and width of an NHWC tensor so that its height
   * starts `top` rows before row 0 and has `height` rows in all (likewise for the width).
   */
  padOrCrop(x: TensorInfo, top: number, height: number, left: number, width: number): TensorInfo {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const bottom = height - top - h;
    const right = width - left - w;
    let y = x;
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const begin = [0, Math.max(0, -top), Math.max(0, -left), 0];
      const size = [b, h - Math.max(0, -top) - Math.max(0, -bottom), w - Math.max(0, -left) - Math.max(0, -right), c];
      y = this.run('Slice', { x: y }, { begin, size });
    }
    if (top > 0 || bottom > 0 || left > 0 || right > 0) {
      const paddings = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
      y = this.run('PadV2', { x: y }, { paddings, constantValue: 0 });
    }
    return y;
  }

  /** Inserts `sh - 1` zero rows after each row and `sw - 1` zero columns after each column (NHWC). */
  dilate(x: TensorInfo, sh: number, sw: number): TensorInfo {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    let y = x;
    if (sh > 1) {
      y = this.run('Reshape', { x: y }, { shape: [b * h, 1, w, c] });
      y = this.run('PadV2', { x: y }, { paddings: [[0, 0], [0, sh - 1], [0, 0], [0, 0]], constantValue: 0 });
      y = this.run('Reshape', { x: y }, { shape: [b, h * sh, w, c] });
    }
    if (sw > 1) {
      y = this.run('Reshape', { x: y }, { shape: [b * h * sh, w, 1, c] });
      y = this.run('PadV2', { x: y }, { paddings: [[0, 0], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      y = this.run('Reshape', { x: y }, { shape: [b, h * sh, w * sw, c] });
    }
    return y;
  }
}

function pair(v: unknown, name: string): Pair {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return [v[0] as number, v[1] as number];
  if (v === undefined && name === 'dilations') return [1, 1];
  throw new Error(`nasrl gradient kernels: unsupported ${name} ${JSON.stringify(v)}`);
}

function checkLayout(attrs: NamedAttrMap, kernel: string): void {
  const format = attrs.dataFormat;
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') {
    throw new Error(`nasrl ${kernel} for wasm supports NHWC only, got dataFormat ${JSON.stringify(format)}`);
  }
}

type ConvPad = backend_util.ExplicitPadding | number | 'same' | 'valid';

/**
 * dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·sh + kh·dh − top, ow·sw + kw·dw − left, ci] · dy[b, oh, ow, co],
 * computed as one convolution of x with its batch and channel axes swapped ([Ci, H, W, B]) by dy as the filter
 * ([OH, OW, B, Co]); the forward stride becomes the dilation and the forward dilation the stride.
 */
export function conv2dFilterGradient(backend: KernelBackend, backendName: string, x: TensorInfo, dy: TensorInfo, filterShape: readonly number[], attrs: NamedAttrMap): TensorInfo {
  const [sh, sw] = pair(attrs.strides, 'strides');
  const [dh, dw] = pair(attrs.dilations, 'dilations');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape as [number, number, number, number], [sh, sw], [dh, dw],
    attrs.pad as ConvPad, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  const { filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
  const k = new KernelRunner(backend, backendName);
  try {
    const needH = (kh - 1) * dh + (oh - 1) * sh + 1;
    const needW = (kw - 1) * dw + (ow - 1) * sw + 1;
    const xp = k.padOrCrop(x, info.padInfo.top, needH, info.padInfo.left, needW);
    const xt = k.run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] });
    const f = k.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    const g = k.run('Conv2D', { x: xt, filter: f }, { strides: [dh, dw], dilations: [sh, sw], pad: 'valid', dataFormat: 'NHWC' });
    return k.finish(k.run('Transpose', { x: g }, { perm: [1, 2, 0, 3] }));
  } catch (err) {
    k.abandon();
    throw err;
  }
}

/**
 * dx[b, ih, iw, ci] = Σ dy[b, oh, ow, co] · W[kh, kw, ci, co] over ih = oh·sh + kh·dh − top: a stride-1
 * convolution of dy, dilated by the stride and padded, with the filter rotated by 180° and its channel axes swapped.
 */
export function conv2dInputGradient(backend: KernelBackend, backendName: string, dy: TensorInfo, filter: TensorInfo, inputShape: readonly number[], attrs: NamedAttrMap): TensorInfo {
  const [sh, sw] = pair(attrs.strides, 'strides');
  const [dh, dw] = pair(attrs.dilations, 'dilations');
  const info = backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number], filter.shape as [number, number, number, number], [sh, sw], [dh, dw],
    attrs.pad as ConvPad, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  const { filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w } = info;
  const k = new KernelRunner(backend, backendName);
  try {
    const dyd = k.dilate(dy, sh, sw);
    const z = k.padOrCrop(dyd, (kh - 1) * dh - info.padInfo.top, h + (kh - 1) * dh, (kw - 1) * dw - info.padInfo.left, w + (kw - 1) * dw);
    const rotated = k.run('Reverse', { x: filter }, { dims: [0, 1] });
    const wr = k.run('Transpose', { x: rotated }, { perm: [0, 1, 3, 2] });
    return k.finish(k.run('Conv2D', { x: z, filter: wr }, { strides: [1, 1], dilations: [dh, dw], pad: 'valid', dataFormat: 'NHWC' }));
  } catch (err) {
    k.abandon();
    throw err;
  }
}

const registered = new Set<string>();

/**
 * Registers, for the backend named `backendName` (default 'wasm'), Conv2DBackpropFilter (missing there) and
 * Conv2DBackpropInput (replacing the backend's slow loop), both built from its Conv2D, PadV2, Slice, Reshape,
 * Reverse and Transpose kernels. Idempotent. The backend's kernels must be registered first (import it first).
 */
export function registerConvGradientKernels(backendName = 'wasm'): void {
  if (registered.has(backendName)) return;
  for (const name of ['Conv2D', 'PadV2', 'Slice', 'Reshape', 'Reverse', 'Transpose']) {
    if (tf.getKernel(name, backendName) === undefined) {
      throw new Error(`nasrl gradient kernels: backend ${backendName} has no ${name} kernel to build the convolution gradients from`);
    }
  }
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput']) {
    if (tf.getKernel(name, backendName) !== undefined) tf.unregisterKernel(name, backendName);
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, backend, attrs = {} }) => {
      checkLayout(attrs, 'Conv2DBackpropFilter');
      return conv2dFilterGradient(backend as KernelBackend, backendName, inputs.x as TensorInfo, inputs.dy as TensorInfo, attrs.filterShape as number[], attrs);
    },
  });
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName,
    kernelFunc: ({ inputs, backend, attrs = {} }) => {
      checkLayout(attrs, 'Conv2DBackpropInput');
      return conv2dInputGradient(backend as KernelBackend, backendName, inputs.dy as TensorInfo, inputs.filter as TensorInfo, attrs.inputShape as number[], attrs);
    },
  });
  registered.add(backendName);
}
