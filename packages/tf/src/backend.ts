import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, InvalidBackendPreferenceError } from './errors';
import { registerTrainingGradients } from './gradients';
import { registerConvGradientKernels } from './wasm-kernels';

/** The backends nasrl can run on, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** A backend by name, or `auto`: the first of BACKEND_ORDER that loads. */
export type BackendPreference = BackendName | 'auto';

/** The order `auto` tries: libtensorflow with CUDA, libtensorflow on CPU, WebAssembly (XNNPACK), plain JavaScript. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The backend that was chosen and why (which faster ones were skipped). */
export interface SelectedBackend {
  readonly name: BackendName;
  /** The engine's name for it (`tensorflow` for both libtensorflow packages). */
  readonly engineName: string;
  /** One line: the choice and the reason, as logged. */
  readonly reason: string;
}

/** Options of selectBackend. */
export interface SelectBackendOptions {
  /** Where the log line goes. Default: stderr. Pass `() => {}` to stay silent. */
  log?: (line: string) => void;
}

/** Parses a configured preference (for example the value of NASRL_TF_BACKEND); empty or undefined means auto. */
export function parseBackendPreference(value: string | undefined): BackendPreference {
  if (value === undefined || value.trim() === '') return 'auto';
  const v = value.trim();
  if (v === 'auto' || (BACKEND_ORDER as readonly string[]).includes(v)) return v as BackendPreference;
  throw new InvalidBackendPreferenceError(v);
}

// Optional packages are loaded by a computed name so that a missing one is a caught error, not a build error.
function optionalRequire(name: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(name);
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'MODULE_NOT_FOUND') return 'not installed';
  return String(e?.message ?? err).split('\n')[0] ?? 'failed';
}

/** The folder holding the wasm backend's .wasm binaries, found through the module resolver. */
export function wasmBinaryDirectory(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

let wasmPathsSet = false;

async function load(name: BackendName): Promise<{ engineName: string; detail: string }> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      optionalRequire(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('libtensorflow failed to initialise');
      return { engineName: 'tensorflow', detail: '' };
    }
    case 'wasm': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void; getThreadsCount(): number };
      if (!wasmPathsSet) {
        wasm.setWasmPaths(wasmBinaryDirectory());
        wasmPathsSet = true;
      }
      registerConvGradientKernels('wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the WebAssembly module failed to initialise');
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const threads = wasm.getThreadsCount();
      return { engineName: 'wasm', detail: ` (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})` };
    }
    case 'cpu': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-cpu');
      // Its first write prints advice to install tfjs-node; our own log line already says what was skipped.
      tf.env().set('PROD', true);
      if (!(await tf.setBackend('cpu'))) throw new Error('the JavaScript backend failed to initialise');
      return { engineName: 'cpu', detail: '' };
    }
  }
}

/**
 * Chooses and activates the TensorFlow.js backend: the named one (an error if it cannot load), or with
 * `auto` the first of tensorflow-gpu, tensorflow, wasm, cpu that loads. Logs one line saying which and why.
 */
export async function selectBackend(preference: BackendPreference = 'auto', options: SelectBackendOptions = {}): Promise<SelectedBackend> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const candidates = preference === 'auto' ? BACKEND_ORDER : [preference];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const { engineName, detail } = await load(name);
      registerTrainingGradients();
      const why = preference === 'auto' ? (skipped.length > 0 ? `auto; skipped ${skipped.join(', ')}` : 'auto; first choice') : 'configured';
      const reason = `TensorFlow.js backend ${name}${detail}: ${why}`;
      log(`nasrl: ${reason}`);
      return { name, engineName, reason };
    } catch (err) {
      if (preference !== 'auto') {
        throw new BackendUnavailableError(name, `TensorFlow.js backend ${name} is unavailable (${describe(err)}); choose another with NASRL_TF_BACKEND=tensorflow-gpu|tensorflow|wasm|cpu`);
      }
      skipped.push(`${name} (${describe(err)})`);
    }
  }
  throw new BackendUnavailableError('auto', `no TensorFlow.js backend could be loaded: ${skipped.join(', ')}`);
}
