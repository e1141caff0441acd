import { InvalidRequestError, ShardCapacityError } from './errors';
import type { CompiledAdamOptions } from './optimizer';
import { SLICE_KERNELS_WASM } from './wasm/slice-kernels';

/** One tensor's storage in a slice arena: views of its values, Adam moments and incoming gradient. */
export interface ArenaTensor {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Where a push's gradient for this tensor is decoded before the Adam step reads it. */
  grad: Float32Array;
}

/**
 * The most float32 values one experiment's slice may hold on a shard: its arena then takes 1 GiB (values,
 * two moments, gradient). A single gRPC message (64 MiB by default) carries at most a quarter of that.
 */
export const MAX_SLICE_VALUES = 1 << 26;

interface SliceKernels {
  adam(
    p: number, m: number, v: number, g: number, n: number,
    scale: number, b1: number, a1: number, b2: number, a2: number, step: number, ic2: number, eps: number,
  ): void;
  allFinite(x: number, n: number): number;
}

const PAGE_BYTES = 65_536;
let kernelModule: WebAssembly.Module | null = null;

/**
 * One experiment's slice on a shard, in a WebAssembly memory of its own, laid out for the SIMD kernels of
 * wasm/slice-kernels.wat: four regions (values, first moments, second moments, gradients), each holding every
 * tensor in the order given, each tensor padded to a multiple of four values. The Adam step then runs once
 * over the whole slice, four values per instruction, about four times faster than a JavaScript loop in
 * float64, with float32 arithmetic as in TensorFlow's own Adam. The memory never grows, so the views stay
 * valid for the arena's lifetime. Padding holds zeros in every region and an Adam step keeps it zero.
 */
export class SliceArena {
  /** Views per tensor, in the order of the sizes given to `allocate`. */
  readonly tensors: readonly ArenaTensor[];
  private readonly kernels: SliceKernels;
  private readonly regionBytes: number;
  private readonly padded: number;

  private constructor(sizes: readonly number[]) {
    const offsets: number[] = [];
    let padded = 0;
    for (const n of sizes) {
      offsets.push(padded);
      padded += Math.ceil(n / 4) * 4;
    }
    if (padded > MAX_SLICE_VALUES) {
      throw new InvalidRequestError(`a slice of ${padded} float32 values is larger than a shard holds for one experiment (${MAX_SLICE_VALUES}); use more shards`);
    }
    this.padded = padded;
    this.regionBytes = padded * 4;
    const pages = Math.max(1, Math.ceil((4 * this.regionBytes) / PAGE_BYTES));
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    } catch (err) {
      // V8 reserves address space for every WebAssembly memory, so besides a lack of RAM this also happens
      // with more than about 13,000 experiments alive in one process.
      throw new ShardCapacityError(
        `cannot reserve ${pages * PAGE_BYTES} bytes for an experiment's slice of ${padded} values (${(err as Error).message}); ` +
          'the shard holds too many experiments or too little memory is free: use more shards or a new shard process',
      );
    }
    kernelModule ??= new WebAssembly.Module(Buffer.from(SLICE_KERNELS_WASM, 'base64'));
    this.kernels = new WebAssembly.Instance(kernelModule, { env: { memory } }).exports as unknown as SliceKernels;
    const region = (r: number, offset: number, n: number): Float32Array => new Float32Array(memory.buffer, r * this.regionBytes + offset * 4, n);
    this.tensors = sizes.map((n, i) => {
      const o = offsets[i] as number;
      return { params: region(0, o, n), m: region(1, o, n), v: region(2, o, n), grad: region(3, o, n) };
    });
  }

  /** An arena for tensors of the given element counts, every value zero. */
  static allocate(sizes: readonly number[]): SliceArena {
    return new SliceArena(sizes);
  }

  /** The padded number of values per region. */
  get size(): number {
    return this.padded;
  }

  /**
   * One Adam step over the whole slice with the gradients currently in the gradient region multiplied by
   * `scale`; `t` is the 1-based step number for the bias corrections.
   */
  adam(t: number, o: CompiledAdamOptions, scale: number): void {
    const { learningRate, beta1, beta2, epsilon } = o;
    const step = learningRate / (1 - Math.pow(beta1, t));
    const ic2 = 1 / Math.sqrt(1 - Math.pow(beta2, t));
    const b = this.regionBytes;
    this.kernels.adam(0, b, 2 * b, 3 * b, this.padded, scale, beta1, 1 - beta1, beta2, 1 - beta2, step, ic2, epsilon);
  }

  /** True when every value in the gradient region is finite. */
  gradientsFinite(): boolean {
    return this.kernels.allFinite(3 * this.regionBytes, this.padded) === 1;
  }
}
