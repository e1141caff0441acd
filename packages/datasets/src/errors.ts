/**
 * Thrown when a data file is missing, truncated or malformed. Not retryable: the message names the file and
 * what is wrong with it (for CIFAR-10, get the "binary version" archive and point --data-dir at its folder).
 */
export class DataFileError extends Error {
  readonly retryable = false;
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataFileError';
  }
}

/** Thrown for an invalid dataset option (unknown name, subset out of range). Not retryable: fix the option. */
export class DatasetOptionError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'DatasetOptionError';
  }
}
