import type { ConvArchitecture } from '@nasrl/spaces';

/**
 * The reference child: 6 convolutional layers with skip connections, two of them strided, small enough to
 * train in minutes on a CPU. Layer 3 concatenates layers 1 and 2, layer 5 concatenates layers 3 and 4.
 * Used by `nasrl train-arch reference` and `nasrl bench train`.
 */
export const REFERENCE_CHILD: ConvArchitecture = {
  layers: [
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 24, strideHeight: 1, strideWidth: 1, inputs: [] },
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 36, strideHeight: 2, strideWidth: 2, inputs: [0] },
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 36, strideHeight: 1, strideWidth: 1, inputs: [1] },
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 48, strideHeight: 2, strideWidth: 2, inputs: [1, 2] },
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 48, strideHeight: 1, strideWidth: 1, inputs: [3] },
    { type: 'conv', filterHeight: 3, filterWidth: 3, filters: 64, strideHeight: 1, strideWidth: 1, inputs: [3, 4] },
  ],
};
