import { EvaluationRefusedError } from '@nasrl/queue';
import { EvaluationCancelledError } from './evaluator';
import type { TrainLog } from './train-evaluator';

let chosen: Promise<string> | null = null;

/**
 * Chooses the TensorFlow.js backend once per process (thread) for every evaluator that trains, loading
 * TensorFlow.js on first use only; returns the backend's name. A failed choice is not remembered: the next
 * child tries again.
 */
export function selectTrainingBackend(preference: string, log: TrainLog): Promise<string> {
  chosen ??= (async () => {
    const tf = await import('@nasrl/tf');
    const backend = await tf.selectBackend(tf.parseBackendPreference(preference), { log: (line) => log({ event: 'tf_backend', message: line }) });
    return backend.name;
  })();
  chosen.catch(() => (chosen = null));
  return chosen;
}

/**
 * Runs one training of @nasrl/child under its leak check and speaks the evaluators' language: a child over
 * the limits is refused (EvaluationRefusedError), a cancelled one is retried (EvaluationCancelledError), and
 * a leak found after a finished training keeps the result and is logged loudly.
 */
export async function runTraining<T>(train: () => Promise<T>, label: string, log: TrainLog): Promise<T> {
  const { expectNoLeakedTensors, ArchitectureTooLargeError, TrainingCancelledError } = await import('@nasrl/child');
  let result: { value: T } | undefined;
  try {
    await expectNoLeakedTensors(async () => {
      result = { value: await train() };
    }, label);
  } catch (err) {
    if (err instanceof ArchitectureTooLargeError) throw new EvaluationRefusedError(err.message);
    if (err instanceof TrainingCancelledError) throw new EvaluationCancelledError();
    if (result === undefined) throw err;
    log({ event: 'tensor_leak', level: 'error', message: (err as Error).message });
  }
  return (result as { value: T }).value;
}
