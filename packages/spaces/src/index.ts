/**
 * Search spaces as data: an architecture is a token sequence, a JSON description and a canonical key.
 *
 * @example
 * ```ts
 * import { ConvSpace, Nb201Space } from '@nasrl/spaces';
 * const conv = new ConvSpace({ strides: [1, 2, 3] });
 * const arch = conv.decode(tokens, conv.depthAfter(sampledSoFar));
 * const nb = new Nb201Space();
 * nb.key(nb.decode([3, 3, 3, 1, 3, 3])); // '|nor_conv_3x3~0|+|...'
 * ```
 */
export type { Decision, SearchSpace, TokenType } from './types';
export { tokenCount } from './types';
export { InvalidArchitectureError, SpaceFileError } from './errors';
export type { ConvArchitecture, ConvClassifier, ConvLayer, ConvLayerType, ConvMerge, ConvSpaceOptions, CompiledConvSpaceOptions } from './conv';
export { ConvSpace, CONV_SPACE_DEFAULTS, compileConvSpaceOptions, parseConvArchitecture, reductionLayers } from './conv';
export type { Nb201Architecture, Nb201Op } from './nb201';
export { Nb201Space, NB201_OPS, NB201_EDGES, nb201String, parseNb201String } from './nb201';
export type { TableArchitecture, TableEntry } from './table';
export { TableSpace, parseTableSpace } from './table';
