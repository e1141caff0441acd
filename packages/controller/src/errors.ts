/**
 * Thrown when parameters given to the controller do not match its own (a missing or unknown name, a wrong
 * shape, a non-finite value). Not retryable: the parameters come from a different controller configuration.
 */
export class ParameterMismatchError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ParameterMismatchError';
  }
}

/** Thrown for an invalid controller or REINFORCE option; the message names the option. */
export class ControllerConfigError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ControllerConfigError';
  }
}
