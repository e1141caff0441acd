import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `fn` and fails when it leaves tensors behind: compares tf.memory().numTensors and the backend's live
 * data buffers before and after (a kernel that forgets an intermediate shows up in the second count).
 */
export async function expectNoLeakedTensors<T>(fn: () => Promise<T> | T, label = 'function'): Promise<T> {
  const tensorsBefore = tf.memory().numTensors;
  const dataBefore = tf.engine().backend.numDataIds();
  const result = await fn();
  const tensorsAfter = tf.memory().numTensors;
  const dataAfter = tf.engine().backend.numDataIds();
  if (tensorsAfter !== tensorsBefore || dataAfter !== dataBefore) {
    throw new Error(`${label} leaked ${tensorsAfter - tensorsBefore} tensors and ${dataAfter - dataBefore} backend buffers`);
  }
  return result;
}
