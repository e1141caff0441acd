/**
 * Search spaces as data: an architecture is a token sequence, a JSON description and a canonical key.
 *
 * @example
 * ```ts
 * import { ConvSpace, NAS_CELL, Nb201Space, RnnSpace } from '@nasrl/spaces';
 * const conv = new ConvSpace({ strides: [1, 2, 3] });
 * const arch = conv.decode(tokens, conv.depthAfter(sampledSoFar));
 * const nb = new Nb201Space();
 * nb.key(nb.decode([3, 3, 3, 1, 3, 3])); // '|nor_conv_3x3~0|+|...'
 * const rnn = new RnnSpace({ base: 8 }); // the recurrent-cell space: 34 tokens
 * rnn.key(rnn.decode(rnn.encode(NAS_CELL))); // 'rnn8:mul:tanh(...)|inject add:tanh'
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
export type { RnnActivation, RnnCell, RnnCombination, RnnOp, RnnSpaceOptions, RnnTreeNode } from './rnn';
export { NAMED_RNN_CELLS, NAS_CELL, RNN_ACTIVATIONS, RNN_COMBINATIONS, RNN_MAX_BASE, RnnSpace, parseRnnCell, rnnCellKey, rnnCellTree, rnnNodeCount } from './rnn';
