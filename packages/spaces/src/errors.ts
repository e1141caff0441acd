/**
 * Thrown when an architecture, a token sequence or a space description is invalid. Not retryable: the
 * message names what is wrong and where (`layers[2].filters`, `entries[17].tokens[3]`, `line 12`), so fix
 * the input and try again.
 */
export class InvalidArchitectureError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArchitectureError';
  }
}

/** Thrown when a search-space file (a table space JSON, a benchmark CSV) is malformed; names the file and the place. */
export class SpaceFileError extends Error {
  readonly retryable = false;
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SpaceFileError';
  }
}
