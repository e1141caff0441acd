/** Thrown for an invalid search or benchmark option; the message names the option and the allowed values. */
export class SearchConfigError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'SearchConfigError';
  }
}
