import type { ConvArchitecture, ConvClassifier, ConvLayerType, ConvMerge } from '@nasrl/spaces';
import { ArchitectureTooLargeError } from './errors';

/** Limits checked before a child is built. */
export interface ChildLimits {
  /** Most layers. Default 64. */
  maxLayers?: number;
  /** Most filters in one layer. Default 512. */
  maxFilters?: number;
  /** Most trainable parameters. Default 20,000,000. */
  maxParameters?: number;
  /** Most bytes of activations kept for the backward pass of one training batch. Default 2 GiB. */
  maxActivationBytes?: number;
}

export const CHILD_LIMIT_DEFAULTS: Required<ChildLimits> = {
  maxLayers: 64,
  maxFilters: 512,
  maxParameters: 20_000_000,
  maxActivationBytes: 2 * 1024 ** 3,
};

/** Zero padding of one input to the common height and width of a concatenation: [top, bottom, left, right]. */
export type Padding = [number, number, number, number];

/** Average-pooling window and stride [height, width] that shrinks one input before it is joined; [1, 1]: none. */
export type PoolStride = [number, number];

/** The shapes of one layer of a planned child. */
export interface LayerPlan {
  readonly type: ConvLayerType;
  readonly inputs: readonly number[];
  /** Pooling of each input, applied before its padding (merge 'pool'; all [1, 1] with merge 'pad'). */
  readonly inputPool: readonly PoolStride[];
  /** Padding of each input (same order as `inputs`; one entry for the image when `inputs` is empty). */
  readonly inputPadding: readonly Padding[];
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  /** Trainable parameters: the filter (no bias: batch norm follows) and batch norm's scale and offset. */
  readonly parameters: number;
}

/** A child's shapes and sizes, computed without allocating anything. */
export interface ChildPlan {
  readonly layers: readonly LayerPlan[];
  readonly merge: ConvMerge;
  readonly classifier: ConvClassifier;
  /** Layers whose output no later layer consumed: joined like a layer's inputs for the classifier. */
  readonly outputs: readonly number[];
  readonly outputPool: readonly PoolStride[];
  readonly outputPadding: readonly Padding[];
  readonly featureHeight: number;
  readonly featureWidth: number;
  readonly featureChannels: number;
  /** Inputs of the dense classifier: featureChannels ('average') or height × width × channels ('flatten'). */
  readonly classifierInputs: number;
  readonly classes: number;
  readonly parameters: number;
  /** Activation bytes per training image (multiply by the batch size). */
  readonly activationBytesPerImage: number;
}

/** Image shape and class count a child is built for. */
export interface InputShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
}

function paddingTo(h: number, w: number, height: number, width: number): Padding {
  // Centred, the extra row or column at the bottom or right.
  const top = Math.floor((height - h) / 2);
  const left = Math.floor((width - w) / 2);
  return [top, height - h - top, left, width - w - left];
}

interface Source {
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
}

/**
 * How sources of different sizes are joined: with 'pad' at the largest height and width, each zero-padded;
 * with 'pool' at the smallest, each larger one average-pooled (window = stride = ⌈size / target⌉) and
 * padded for any remainder. `extraFloats` counts the new tensors kept for the backward pass, per image.
 */
function joinShapes(sources: readonly Source[], merge: ConvMerge) {
  const pick = merge === 'pad' ? Math.max : Math.min;
  const height = pick(...sources.map((s) => s.outHeight));
  const width = pick(...sources.map((s) => s.outWidth));
  const channels = sources.reduce((sum, s) => sum + s.outChannels, 0);
  const pool: PoolStride[] = [];
  const padding: Padding[] = [];
  let extraFloats = 0;
  for (const s of sources) {
    const sh = Math.ceil(s.outHeight / height);
    const sw = Math.ceil(s.outWidth / width);
    pool.push([sh, sw]);
    if (sh > 1 || sw > 1) extraFloats += Math.ceil(s.outHeight / sh) * Math.ceil(s.outWidth / sw) * s.outChannels;
    padding.push(paddingTo(Math.ceil(s.outHeight / sh), Math.ceil(s.outWidth / sw), height, width));
  }
  // A concatenation (or a padded single input) is a new tensor kept for the backward pass.
  if (sources.length > 1 || padding.some((p) => p.some((v) => v > 0))) extraFloats += height * width * channels;
  return { height, width, channels, pool, padding, extraFloats };
}

/**
 * Computes every layer's shape, the parameter count and the activation memory of a child, and checks them
 * against the limits: throws ArchitectureTooLargeError before anything is allocated. Convolutions and
 * pooling use 'same' padding, so a layer's output is ⌈input / stride⌉ in each dimension. Inputs of different
 * sizes are joined as the architecture's `merge` says (default 'pad', the paper's).
 */
export function planChild(arch: ConvArchitecture, input: InputShape, limits: ChildLimits = {}, batchSize = 1): ChildPlan {
  const l = { ...CHILD_LIMIT_DEFAULTS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) } as Required<ChildLimits>;
  if (arch.layers.length > l.maxLayers) {
    throw new ArchitectureTooLargeError('maxLayers', arch.layers.length, l.maxLayers, `${arch.layers.length} layers`);
  }
  arch.layers.forEach((layer, i) => {
    if (layer.type === 'conv' && layer.filters > l.maxFilters) {
      throw new ArchitectureTooLargeError('maxFilters', layer.filters, l.maxFilters, `layers[${i}] has ${layer.filters} filters`);
    }
  });
  const layers: LayerPlan[] = [];
  const consumed = new Set<number>();
  let parameters = 0;
  let floatsPerImage = 0;
  const merge = arch.merge ?? 'pad';
  const classifier = arch.classifier ?? 'average';
  for (const layer of arch.layers) {
    let inHeight: number, inWidth: number, inChannels: number;
    let inputPadding: Padding[];
    let inputPool: PoolStride[];
    if (layer.inputs.length === 0) {
      [inHeight, inWidth, inChannels] = [input.height, input.width, input.channels];
      inputPadding = [[0, 0, 0, 0]];
      inputPool = [[1, 1]];
    } else {
      const joined = joinShapes(layer.inputs.map((j) => layers[j] as LayerPlan), merge);
      [inHeight, inWidth, inChannels] = [joined.height, joined.width, joined.channels];
      inputPadding = joined.padding;
      inputPool = joined.pool;
      for (const j of layer.inputs) consumed.add(j);
      floatsPerImage += joined.extraFloats;
    }
    const outHeight = Math.ceil(inHeight / layer.strideHeight);
    const outWidth = Math.ceil(inWidth / layer.strideWidth);
    const isConv = layer.type === 'conv';
    const outChannels = isConv ? layer.filters : inChannels;
    const p = isConv ? layer.filterHeight * layer.filterWidth * inChannels * layer.filters + 2 * layer.filters : 0;
    parameters += p;
    // Kept for the backward pass: the convolution's output and the normalised, rectified output (pooling: one).
    floatsPerImage += (isConv ? 2 : 1) * outHeight * outWidth * outChannels;
    layers.push({
      type: layer.type, inputs: layer.inputs, inputPool, inputPadding, inHeight, inWidth, inChannels,
      filterHeight: layer.filterHeight, filterWidth: layer.filterWidth, strideHeight: layer.strideHeight, strideWidth: layer.strideWidth,
      outHeight, outWidth, outChannels, parameters: p,
    });
  }
  const outputs = layers.map((_, i) => i).filter((i) => !consumed.has(i));
  const joined = joinShapes(outputs.map((i) => layers[i] as LayerPlan), merge);
  const { height: featureHeight, width: featureWidth, channels: featureChannels } = joined;
  floatsPerImage += joined.extraFloats;
  const classifierInputs = classifier === 'flatten' ? featureHeight * featureWidth * featureChannels : featureChannels;
  parameters += classifierInputs * input.classes + input.classes;
  if (parameters > l.maxParameters) {
    throw new ArchitectureTooLargeError('maxParameters', parameters, l.maxParameters, `${parameters} trainable parameters`);
  }
  const activationBytesPerImage = floatsPerImage * 4;
  if (activationBytesPerImage * batchSize > l.maxActivationBytes) {
    throw new ArchitectureTooLargeError('maxActivationBytes', activationBytesPerImage * batchSize, l.maxActivationBytes,
      `${activationBytesPerImage * batchSize} bytes of activations for a batch of ${batchSize}`);
  }
  return {
    layers, merge, classifier, outputs, outputPool: joined.pool, outputPadding: joined.padding,
    featureHeight, featureWidth, featureChannels, classifierInputs, classes: input.classes, parameters, activationBytesPerImage,
  };
}
