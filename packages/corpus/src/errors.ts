/**
 * Thrown when a corpus cannot be loaded: a missing or unreadable file, an empty split, an option out of range.
 * Not retryable: the message names the file or the option and says how to fix it.
 */
export class CorpusError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'CorpusError';
  }
}
