import { checkTokens, expectArray, expectInteger, expectObject, expectOneOf, rejectUnknownKeys } from './check';
import { InvalidArchitectureError } from './errors';
import type { Decision, SearchSpace, TokenType } from './types';

/** Layer kinds of the convolutional space; pooling layers are the paper's extension. */
export type ConvLayerType = 'conv' | 'maxpool' | 'avgpool';

/** One layer of a convolutional child. `inputs` are indices of earlier layers; empty means the image. */
export interface ConvLayer {
  readonly type: ConvLayerType;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly filters: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  readonly inputs: readonly number[];
}

/**
 * How a layer joins inputs of different height and width: zero-pad the smaller ones to the largest (the
 * paper's rule, SPEC.md section 3) or average-pool the larger ones down to the smallest.
 */
export type ConvMerge = 'pad' | 'pool';

/** What the classifier reads: the globally averaged features, or every feature position (flattened). */
export type ConvClassifier = 'average' | 'flatten';

/**
 * A convolutional child network: layers in order; outputs no later layer consumes go to the classifier.
 * `merge` defaults to 'pad' and `classifier` to 'average' (the paper's child).
 */
export interface ConvArchitecture {
  readonly layers: readonly ConvLayer[];
  readonly merge?: ConvMerge;
  readonly classifier?: ConvClassifier;
}

/** Options of the convolutional space (SPEC.md section 3). Every field has the paper's default. */
export interface ConvSpaceOptions {
  /** Filter heights to choose from. Default [1, 3, 5, 7]. */
  filterHeights?: readonly number[];
  /** Filter widths to choose from. Default [1, 3, 5, 7]. */
  filterWidths?: readonly number[];
  /** Numbers of filters to choose from. Default [24, 36, 48, 64]. */
  filterCounts?: readonly number[];
  /** Strides to choose from (height and width each); empty fixes strides to 1. Default [] (no stride tokens). */
  strides?: readonly number[];
  /** Layer types to choose from; a single type emits no token. Default ['conv']. */
  layerTypes?: readonly ConvLayerType[];
  /** Whether the controller predicts skip connections with anchor points. Default true. */
  anchors?: boolean;
  /** Depth schedule: layers at the start. Default 6. */
  initialLayers?: number;
  /** Depth schedule: layers added at each increase. Default 2. */
  layersPerIncrease?: number;
  /** Depth schedule: sampled architectures between increases. Default 1600. */
  architecturesPerIncrease?: number;
  /** Depth schedule: the largest depth. Default 24. */
  maxLayers?: number;
  /**
   * Layers with a fixed stride of 2 in both directions, spread evenly over the depth from the first one
   * (layer ⌊k·L/r⌋ for k = 0..r-1 of L layers), so that children shrink the image early, whatever the
   * controller picks. Default 0.
   */
  reductions?: number;
  /**
   * What a layer reads when its anchor point selected no earlier layer: the image (the paper's rule) or the
   * layer before it, so that every layer after the first builds on the one before. Default 'image'.
   */
  unconnected?: 'image' | 'previous';
  /** How inputs of different sizes are joined (see ConvMerge). Default 'pad'. */
  merge?: ConvMerge;
  /** What the classifier reads (see ConvClassifier). Default 'average'. */
  classifier?: ConvClassifier;
}

/** ConvSpaceOptions with every default filled in. */
export type CompiledConvSpaceOptions = { readonly [K in keyof ConvSpaceOptions]-?: NonNullable<ConvSpaceOptions[K]> };

export const CONV_SPACE_DEFAULTS: CompiledConvSpaceOptions = {
  filterHeights: [1, 3, 5, 7],
  filterWidths: [1, 3, 5, 7],
  filterCounts: [24, 36, 48, 64],
  strides: [],
  layerTypes: ['conv'],
  anchors: true,
  initialLayers: 6,
  layersPerIncrease: 2,
  architecturesPerIncrease: 1600,
  maxLayers: 24,
  reductions: 0,
  unconnected: 'image',
  merge: 'pad',
  classifier: 'average',
};

/** Indices of the layers that the fixed reduction schedule strides, for an architecture of `layers` layers. */
export function reductionLayers(layers: number, reductions: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < reductions; k++) {
    const i = Math.floor((k * layers) / reductions);
    if (i < layers && !out.includes(i)) out.push(i);
  }
  return out;
}

const LAYER_KEYS = ['type', 'filterHeight', 'filterWidth', 'filters', 'strideHeight', 'strideWidth', 'inputs'] as const;

function positiveIntegers(values: readonly number[], name: string): void {
  if (!Array.isArray(values) || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new InvalidArchitectureError(`conv space option ${name}: expected a list of positive integers, got ${JSON.stringify(values)}`);
  }
}

/** Fills defaults and checks each option; throws InvalidArchitectureError naming the bad option. */
export function compileConvSpaceOptions(options: ConvSpaceOptions = {}): CompiledConvSpaceOptions {
  const o = { ...CONV_SPACE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as CompiledConvSpaceOptions;
  for (const name of ['filterHeights', 'filterWidths', 'filterCounts'] as const) {
    positiveIntegers(o[name], name);
    if (o[name].length === 0) throw new InvalidArchitectureError(`conv space option ${name}: needs at least one value`);
  }
  positiveIntegers(o.strides, 'strides');
  if (o.layerTypes.length === 0) throw new InvalidArchitectureError('conv space option layerTypes: needs at least one value');
  for (const t of o.layerTypes) expectOneOf(t, ['conv', 'maxpool', 'avgpool'] as const, 'conv space option layerTypes');
  for (const name of ['initialLayers', 'layersPerIncrease', 'architecturesPerIncrease', 'maxLayers'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < (name === 'layersPerIncrease' ? 0 : 1)) {
      throw new InvalidArchitectureError(`conv space option ${name}: expected a positive integer, got ${JSON.stringify(o[name])}`);
    }
  }
  if (!Number.isInteger(o.reductions) || o.reductions < 0) {
    throw new InvalidArchitectureError(`conv space option reductions: expected an integer ≥ 0, got ${JSON.stringify(o.reductions)}`);
  }
  if (o.reductions > 0 && o.strides.length > 0) {
    throw new InvalidArchitectureError('conv space options: reductions fix the strides; remove strides (or set reductions to 0)');
  }
  expectOneOf(o.unconnected, ['image', 'previous'] as const, 'conv space option unconnected');
  expectOneOf(o.merge, ['pad', 'pool'] as const, 'conv space option merge');
  expectOneOf(o.classifier, ['average', 'flatten'] as const, 'conv space option classifier');
  if (o.initialLayers > o.maxLayers) {
    throw new InvalidArchitectureError(`conv space options: initialLayers (${o.initialLayers}) exceeds maxLayers (${o.maxLayers})`);
  }
  return o;
}

/**
 * The paper's convolutional space. Per layer the controller emits, in order: the anchor point (one 0/1
 * token per earlier layer), [layer type], filter height, filter width, number of filters, [stride height,
 * stride width]. Bracketed tokens appear only when the options give more than one choice.
 */
export class ConvSpace implements SearchSpace<ConvArchitecture> {
  readonly name = 'conv';
  readonly options: CompiledConvSpaceOptions;
  readonly tokenTypes: readonly TokenType[];
  private readonly fields: readonly { type: string; values: readonly (number | string)[]; field: keyof ConvLayer }[];

  constructor(options: ConvSpaceOptions = {}) {
    const o = compileConvSpaceOptions(options);
    this.options = o;
    const fields: { type: string; values: readonly (number | string)[]; field: keyof ConvLayer }[] = [];
    if (o.layerTypes.length > 1) fields.push({ type: 'layer_type', values: o.layerTypes, field: 'type' });
    fields.push({ type: 'filter_height', values: o.filterHeights, field: 'filterHeight' });
    fields.push({ type: 'filter_width', values: o.filterWidths, field: 'filterWidth' });
    fields.push({ type: 'filters', values: o.filterCounts, field: 'filters' });
    if (o.strides.length > 0) {
      fields.push({ type: 'stride_height', values: o.strides, field: 'strideHeight' });
      fields.push({ type: 'stride_width', values: o.strides, field: 'strideWidth' });
    }
    this.fields = fields;
    this.tokenTypes = fields.map((f) => ({ name: f.type, choices: f.values.map(String) }));
  }

  get maxLayers(): number {
    return this.options.maxLayers;
  }

  /** The depth schedule: layers for the next architecture after `sampled` architectures were sampled. */
  depthAfter(sampled: number): number {
    const o = this.options;
    const increases = Math.floor(Math.max(0, sampled) / o.architecturesPerIncrease);
    return Math.min(o.maxLayers, o.initialLayers + increases * o.layersPerIncrease);
  }

  decisions(layers: number = this.options.initialLayers): readonly Decision[] {
    this.checkDepth(layers);
    const out: Decision[] = [];
    for (let i = 0; i < layers; i++) {
      if (this.options.anchors) out.push({ kind: 'anchor', layer: i });
      for (const f of this.fields) out.push({ kind: 'categorical', type: f.type });
    }
    return out;
  }

  /** Choice count of every token of an architecture with `layers` layers (anchor tokens have 2). */
  tokenSizes(layers: number): number[] {
    const sizes: number[] = [];
    for (let i = 0; i < layers; i++) {
      if (this.options.anchors) for (let j = 0; j < i; j++) sizes.push(2);
      for (const f of this.fields) sizes.push(f.values.length);
    }
    return sizes;
  }

  decode(tokens: readonly number[], layers?: number): ConvArchitecture {
    const depth = layers ?? this.depthFromTokenCount(tokens.length);
    checkTokens(tokens, this.tokenSizes(depth));
    const result: ConvLayer[] = [];
    const reduced = reductionLayers(depth, this.options.reductions);
    let p = 0;
    for (let i = 0; i < depth; i++) {
      // Without anchor points the layers form a chain: each consumes its predecessor.
      const inputs: number[] = this.options.anchors || i === 0 ? [] : [i - 1];
      if (this.options.anchors) for (let j = 0; j < i; j++) if (tokens[p++] === 1) inputs.push(j);
      if (inputs.length === 0 && i > 0 && this.options.unconnected === 'previous') inputs.push(i - 1);
      const stride = reduced.includes(i) ? 2 : 1;
      const layer: Record<string, unknown> = { type: this.options.layerTypes[0], strideHeight: stride, strideWidth: stride, inputs };
      for (const f of this.fields) layer[f.field] = f.values[tokens[p++] as number];
      result.push(layer as unknown as ConvLayer);
    }
    return withNetworkOptions({ layers: result }, this.options.merge, this.options.classifier);
  }

  encode(arch: ConvArchitecture): number[] {
    const o = this.options;
    if ((arch.merge ?? 'pad') !== o.merge || (arch.classifier ?? 'average') !== o.classifier) {
      throw new InvalidArchitectureError(`architecture: merge ${arch.merge ?? 'pad'} and classifier ${arch.classifier ?? 'average'} differ from this space's (${o.merge}, ${o.classifier})`);
    }
    const reduced = o.reductions > 0 ? reductionLayers(arch.layers.length, o.reductions) : [];
    arch.layers.forEach((layer, i) => {
      if (i > 0 && layer.inputs.length === 0 && o.anchors && o.unconnected === 'previous') {
        throw new InvalidArchitectureError(`layers[${i}]: reads the image, but in this space a layer without inputs reads layer ${i - 1}`);
      }
      if (o.strides.length > 0) return;
      const stride = reduced.includes(i) ? 2 : 1;
      if (layer.strideHeight !== stride || layer.strideWidth !== stride) {
        throw new InvalidArchitectureError(`layers[${i}]: stride ${layer.strideHeight}x${layer.strideWidth}, this space fixes it to ${stride}x${stride}`);
      }
    });
    const tokens: number[] = [];
    arch.layers.forEach((layer, i) => {
      if (this.options.anchors) for (let j = 0; j < i; j++) tokens.push(layer.inputs.includes(j) ? 1 : 0);
      for (const f of this.fields) {
        const index = f.values.indexOf(layer[f.field] as number | string);
        if (index < 0) throw new InvalidArchitectureError(`layers[${i}].${f.field}: ${JSON.stringify(layer[f.field])} is not in this space`);
        tokens.push(index);
      }
    });
    return tokens;
  }

  key(arch: ConvArchitecture): string {
    const layers = arch.layers
      .map((l) => `${l.type}${l.filterHeight}x${l.filterWidth}/${l.strideHeight}x${l.strideWidth}:${l.filters}<${l.inputs.join(',')}`)
      .join('|');
    const merge = arch.merge ?? 'pad';
    const classifier = arch.classifier ?? 'average';
    return merge === 'pad' && classifier === 'average' ? layers : `${layers}#${merge},${classifier}`;
  }

  /** Validates an architecture against this space's choices (a layer's values must be ones the space offers). */
  parse(json: unknown): ConvArchitecture {
    const arch = parseConvArchitecture(json);
    this.checkDepth(arch.layers.length);
    this.encode(arch);
    return arch;
  }

  toJSON(arch: ConvArchitecture): unknown {
    return withNetworkOptions({ layers: arch.layers.map((l) => ({ ...l, inputs: [...l.inputs] })) }, arch.merge ?? 'pad', arch.classifier ?? 'average');
  }

  private depthFromTokenCount(count: number): number {
    for (let layers = 1; layers <= this.options.maxLayers; layers++) {
      if (this.tokenSizes(layers).length === count) return layers;
    }
    throw new InvalidArchitectureError(`tokens: ${count} tokens match no depth of this conv space (1..${this.options.maxLayers} layers)`);
  }

  private checkDepth(layers: number): void {
    if (!Number.isInteger(layers) || layers < 1 || layers > this.options.maxLayers) {
      throw new InvalidArchitectureError(`layers: ${layers} is outside 1..${this.options.maxLayers} of this conv space`);
    }
  }
}

/** Adds merge and classifier to an architecture when they differ from the paper's, so paper children keep their JSON. */
function withNetworkOptions<T extends { layers: unknown }>(arch: T, merge: ConvMerge, classifier: ConvClassifier): T & { merge?: ConvMerge; classifier?: ConvClassifier } {
  return { ...arch, ...(merge !== 'pad' ? { merge } : {}), ...(classifier !== 'average' ? { classifier } : {}) };
}

/**
 * Parses and validates a convolutional architecture from untrusted JSON, independent of any space's
 * choices: `{"layers": [{"filterHeight": 3, "filterWidth": 3, "filters": 36, "inputs": [0]}, ...]}`.
 * `type` defaults to "conv", strides to 1, `inputs` to [] (the image). Inputs must name earlier layers.
 */
export function parseConvArchitecture(json: unknown): ConvArchitecture {
  const root = expectObject(json, 'architecture');
  rejectUnknownKeys(root, ['layers', 'space', 'merge', 'classifier'], 'architecture');
  if (root.space !== undefined && root.space !== 'conv') {
    throw new InvalidArchitectureError(`architecture.space: expected "conv", got ${JSON.stringify(root.space)}`);
  }
  const layers = expectArray(root.layers, 'architecture.layers');
  if (layers.length === 0) throw new InvalidArchitectureError('architecture.layers: needs at least one layer');
  const merge = root.merge === undefined ? 'pad' : expectOneOf(root.merge, ['pad', 'pool'] as const, 'architecture.merge');
  const classifier = root.classifier === undefined ? 'average' : expectOneOf(root.classifier, ['average', 'flatten'] as const, 'architecture.classifier');
  return withNetworkOptions({
    layers: layers.map((raw, i) => {
      const where = `architecture.layers[${i}]`;
      const l = expectObject(raw, where);
      rejectUnknownKeys(l, LAYER_KEYS, where);
      const positive = (key: string, fallback?: number): number => {
        const v = l[key] === undefined && fallback !== undefined ? fallback : expectInteger(l[key], `${where}.${key}`);
        if (v < 1) throw new InvalidArchitectureError(`${where}.${key}: expected a positive integer, got ${v}`);
        return v;
      };
      const inputs = (l.inputs === undefined ? [] : expectArray(l.inputs, `${where}.inputs`)).map((v, k) => {
        const j = expectInteger(v, `${where}.inputs[${k}]`);
        if (j < 0 || j >= i) throw new InvalidArchitectureError(`${where}.inputs[${k}]: ${j} is not an earlier layer (0..${i - 1})`);
        return j;
      });
      if (new Set(inputs).size !== inputs.length) throw new InvalidArchitectureError(`${where}.inputs: lists a layer twice`);
      return {
        type: l.type === undefined ? 'conv' : expectOneOf(l.type, ['conv', 'maxpool', 'avgpool'] as const, `${where}.type`),
        filterHeight: positive('filterHeight'),
        filterWidth: positive('filterWidth'),
        filters: positive('filters'),
        strideHeight: positive('strideHeight', 1),
        strideWidth: positive('strideWidth', 1),
        inputs: [...inputs].sort((a, b) => a - b),
      };
    }),
  }, merge, classifier);
}
