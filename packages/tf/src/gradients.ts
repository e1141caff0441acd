import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

// The CommonJS build of tfjs-core that Node loads ships no gradient functions (the union package registers them
// from ES modules Node cannot load without it). Children need only these; batch norm and the classifier use
// tf.customGrad with their gradients written out, which saves kernels as well.

function tuple(v: unknown): [number, number] {
  return typeof v === 'number' ? [v, v] : (v as [number, number]);
}

/** The named attributes that are set (the kernels treat a missing one as its default). */
function pick(attrs: NamedAttrMap, keys: readonly string[]): NamedAttrMap {
  const out: NamedAttrMap = {};
  for (const key of keys) {
    const v = attrs[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

const configs: GradConfig[] = [
  {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x, filter] = saved as [Tensor, Tensor];
      const dilations = tuple(attrs.dilations ?? 1);
      if (dilations[0] !== 1 || dilations[1] !== 1) {
        throw new Error(`gradient of Conv2D: dilations ${dilations.join(',')} are not supported; children use dilation 1`);
      }
      const common = pick(attrs, ['strides', 'pad', 'dataFormat', 'dimRoundingMode']);
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy as Tensor, filter }, { ...common, inputShape: x.shape }) as Tensor,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dy as Tensor }, { ...common, filterShape: filter.shape }) as Tensor,
      };
    },
  },
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [x] = saved as [Tensor];
      return { x: () => tf.mul(dy as Tensor, tf.step(x)) };
    },
  },
  {
    // avgPool casts its input to float32, which records a Cast even when it is one already.
    kernelName: 'Cast',
    gradFunc: (dy: Tensor | Tensor[]) => ({ x: () => tf.clone(dy as Tensor) }),
  },
  {
    kernelName: 'Identity',
    gradFunc: (dy: Tensor | Tensor[]) => ({ x: () => tf.clone(dy as Tensor) }),
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const rank = (saved[0] as Tensor).rank;
      const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + rank : (attrs.axis as number);
      const parts = tf.split(dy as Tensor, saved.map((t) => t.shape[axis] as number), axis);
      return parts.map((t) => () => t) as unknown as Record<string, () => Tensor>;
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x] = saved as [Tensor];
      const begin = (attrs.paddings as [number, number][]).map((p) => p[0]);
      return { x: () => tf.slice(dy as Tensor, begin, x.shape) };
    },
  },
  {
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x, y] = saved as [Tensor, Tensor];
      const a = pick(attrs, ['filterSize', 'strides', 'pad', 'dimRoundingMode']);
      return { x: () => tf.engine().runKernel('MaxPoolGrad', { dy: dy as Tensor, input: x, output: y }, a) as Tensor };
    },
  },
  {
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x] = saved as [Tensor];
      const a = pick(attrs, ['filterSize', 'strides', 'pad']);
      return { x: () => tf.engine().runKernel('AvgPoolGrad', { dy: dy as Tensor, input: x }, a) as Tensor };
    },
  },
];

/** Kernel names whose gradients registerTrainingGradients provides. */
export const TRAINING_GRADIENT_KERNELS: readonly string[] = configs.map((c) => c.kernelName);

/**
 * Registers the gradients of Conv2D, Relu, Cast, Identity, Concat, PadV2, MaxPool and AvgPool, keeping any already registered
 * (the full tfjs package that tfjs-node loads brings its own). Idempotent.
 */
export function registerTrainingGradients(): void {
  for (const config of configs) {
    if (tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
  }
}
