import { ParameterServerConfigError } from './errors';

/** Retries of a call that failed with a retryable status (UNAVAILABLE, DEADLINE_EXCEEDED). */
export interface RetryOptions {
  /** Attempts in total, the first included. Default 5. */
  maxAttempts?: number;
  /** Wait before the second attempt. Default 50 ms. */
  initialBackoffMs?: number;
  /** Longest wait between attempts. Default 2,000 ms. */
  maxBackoffMs?: number;
  /** Growth of the wait per attempt. Default 2. */
  multiplier?: number;
}

/** Retry options with defaults filled in. */
export type CompiledRetryOptions = Required<RetryOptions>;

/** Fills in defaults and checks ranges; throws ParameterServerConfigError. */
export function compileRetryOptions(o: RetryOptions = {}): CompiledRetryOptions {
  const c: CompiledRetryOptions = {
    maxAttempts: o.maxAttempts ?? 5,
    initialBackoffMs: o.initialBackoffMs ?? 50,
    maxBackoffMs: o.maxBackoffMs ?? 2_000,
    multiplier: o.multiplier ?? 2,
  };
  if (!Number.isInteger(c.maxAttempts) || c.maxAttempts < 1) throw new ParameterServerConfigError(`retry maxAttempts must be a positive integer, got ${c.maxAttempts}`);
  if (!(c.initialBackoffMs >= 0) || !(c.maxBackoffMs >= c.initialBackoffMs)) {
    throw new ParameterServerConfigError(`retry backoff must satisfy 0 <= initialBackoffMs <= maxBackoffMs, got ${c.initialBackoffMs} and ${c.maxBackoffMs}`);
  }
  if (!(c.multiplier >= 1)) throw new ParameterServerConfigError(`retry multiplier must be >= 1, got ${c.multiplier}`);
  return c;
}

/**
 * Wait before attempt `attempt` (2 for the first retry): exponential, capped, with "equal jitter" (half fixed,
 * half random) so that replicas that lost a shard together do not all come back in the same millisecond.
 */
export function backoffMs(o: CompiledRetryOptions, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(o.maxBackoffMs, o.initialBackoffMs * Math.pow(o.multiplier, attempt - 2));
  return base / 2 + (base / 2) * random();
}

/** Runs `call` until it succeeds, fails with a non-retryable error, or runs out of attempts. */
export async function withRetries<T>(o: CompiledRetryOptions, call: () => Promise<T>, isRetryable: (e: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= o.maxAttempts || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, backoffMs(o, attempt + 1)));
    }
  }
}
