/**
 * Thrown before any tensor is allocated when an architecture exceeds a configured limit (layers, filters,
 * parameters or activation memory). Not retryable: the same architecture always fails; the controller should
 * get a zero reward for it, or the limits be raised (ChildLimits).
 */
export class ArchitectureTooLargeError extends Error {
  readonly retryable = false;
  constructor(readonly limit: 'maxLayers' | 'maxFilters' | 'maxParameters' | 'maxActivationBytes', readonly value: number, readonly maximum: number, detail: string) {
    super(`architecture too large: ${detail} (${limit} is ${maximum}); raise the limit or sample a smaller child`);
    this.name = 'ArchitectureTooLargeError';
  }
}

/**
 * Thrown by trainChild when its AbortSignal fires; training stops between two batches and every tensor is
 * freed. Retryable: the architecture itself is fine, train it again later.
 */
export class TrainingCancelledError extends Error {
  readonly retryable = true;
  constructor(readonly epoch: number) {
    super(`training cancelled during epoch ${epoch}`);
    this.name = 'TrainingCancelledError';
  }
}

/** Thrown for training options out of range (epochs, batch size, reward window); not retryable, fix the option. */
export class TrainingOptionError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'TrainingOptionError';
  }
}
