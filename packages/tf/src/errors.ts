/**
 * Thrown by `selectBackend` when the backend that was asked for by name (for example with
 * `NASRL_TF_BACKEND=tensorflow`) cannot be loaded. Not retryable on the same machine: install the package the
 * message names, or choose another backend (`wasm` and `cpu` always work).
 */
export class BackendUnavailableError extends Error {
  readonly retryable = false;
  constructor(readonly backend: string, message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

/**
 * Thrown when a backend preference is not one of the known names. Not retryable: fix the configuration value
 * (`NASRL_TF_BACKEND=tensorflow-gpu|tensorflow|wasm|cpu`, or `auto`).
 */
export class InvalidBackendPreferenceError extends Error {
  readonly retryable = false;
  constructor(readonly value: string) {
    super(`unknown TensorFlow.js backend ${JSON.stringify(value)}: expected one of auto, tensorflow-gpu, tensorflow, wasm, cpu`);
    this.name = 'InvalidBackendPreferenceError';
  }
}
