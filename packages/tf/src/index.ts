/**
 * The TensorFlow.js backend: chosen once at start, logged, overridable, with the convolution gradient kernels
 * the wasm backend lacks.
 *
 * @example
 * ```ts
 * import { selectBackend, parseBackendPreference } from '@nasrl/tf';
 * const backend = await selectBackend(parseBackendPreference(process.env.NASRL_TF_BACKEND));
 * // stderr: "nasrl: TensorFlow.js backend wasm (SIMD, 1 thread): auto; skipped tensorflow-gpu (not installed), ..."
 * console.log(backend.name); // 'wasm'
 * ```
 */
export type { BackendName, BackendPreference, SelectedBackend, SelectBackendOptions } from './backend';
export { BACKEND_ORDER, parseBackendPreference, selectBackend, wasmBinaryDirectory } from './backend';
export { registerConvGradientKernels, conv2dFilterGradient, conv2dInputGradient } from './wasm-kernels';
export { registerTrainingGradients, TRAINING_GRADIENT_KERNELS } from './gradients';
export { BackendUnavailableError, InvalidBackendPreferenceError } from './errors';
