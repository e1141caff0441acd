import { InvalidArchitectureError } from './errors';

/** Small validators for untrusted JSON; every error names the path of the bad value. */
export function expectObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArchitectureError(`${where}: expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function expectArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidArchitectureError(`${where}: expected an array, got ${describe(value)}`);
  return value;
}

export function expectInteger(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArchitectureError(`${where}: expected an integer, got ${describe(value)}`);
  }
  return value;
}

export function expectOneOf<T>(value: unknown, allowed: readonly T[], where: string): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidArchitectureError(`${where}: ${describe(value)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  }
  return value as T;
}

export function rejectUnknownKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw new InvalidArchitectureError(`${where}: unknown key "${key}" (expected ${known.join(', ')})`);
  }
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks that a token sequence has the expected length and each token is a valid index. */
export function checkTokens(tokens: readonly number[], sizes: readonly number[], where = 'tokens'): void {
  if (tokens.length !== sizes.length) {
    throw new InvalidArchitectureError(`${where}: expected ${sizes.length} tokens, got ${tokens.length}`);
  }
  tokens.forEach((t, i) => {
    const size = sizes[i] as number;
    if (!Number.isInteger(t) || t < 0 || t >= size) {
      throw new InvalidArchitectureError(`${where}[${i}]: ${describe(t)} is not a choice index in [0, ${size - 1}]`);
    }
  });
}
