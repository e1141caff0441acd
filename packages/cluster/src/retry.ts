/**
 * Repeats `call` while it fails with an error marked `retryable` (a shard restarting, Redis reconnecting),
 * backing off from 100 ms to 5 s, for at most `patienceMs`; other errors and the last failure are thrown.
 */
export async function retryTransient<T>(call: () => Promise<T>, patienceMs = 120_000, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + patienceMs;
  let delay = 100;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const retryable = typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
      if (!retryable || Date.now() + delay > deadline || signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(5000, delay * 2);
    }
  }
}
