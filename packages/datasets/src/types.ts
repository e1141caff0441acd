/** Images of one split: `count` images of height × width × channels floats each, NHWC, and their labels. */
export interface Split {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** A classification dataset, already normalised per channel (statistics of the training split). */
export interface Dataset {
  readonly name: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: number;
  readonly train: Split;
  readonly validation: Split;
  /** Held out from every search: only a final evaluation reads it. Absent when the source has none. */
  readonly test?: Split;
  /** Per-channel mean and standard deviation that were subtracted and divided (of the raw [0, 1] pixels). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** The augmentation training uses by default on this dataset (false: none). */
  readonly augmentation: AugmentOptions | false;
}

/** Augmentation applied to training batches (SPEC.md section 4). */
export interface AugmentOptions {
  /** Pixels of zero padding on each side before a random crop back to the original size; 0 disables. */
  readonly padding: number;
  /** Whether to flip each image horizontally with probability 1/2. */
  readonly flip: boolean;
}
