/**
 * Validators for untrusted JSON (job payloads, stored configurations). Each takes the path of the value and
 * a `fail` that builds the caller's error class, so that every message names the field.
 */
export type Fail = (field: string, problem: string) => Error;

/** A short rendering of a bad value for messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The value as a plain object, or a failure naming `where`. */
export function object(value: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(where, `expected an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}

/** Fails on the first key that is not in `known`. */
export function onlyKeys(obj: Record<string, unknown>, known: readonly string[], where: string, fail: Fail): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) throw fail(where === '' ? key : `${where}.${key}`, `unknown key (accepted: ${known.join(', ')})`);
  }
}

/** A string matching `pattern` (described by `what`). */
export function string(value: unknown, where: string, fail: Fail, pattern?: RegExp, what?: string): string {
  if (typeof value !== 'string') throw fail(where, `expected a string, got ${show(value)}`);
  if (pattern && !pattern.test(value)) throw fail(where, `expected ${what ?? pattern.source}, got ${show(value)}`);
  return value;
}

/** An integer in [min, max]. */
export function integer(value: unknown, where: string, fail: Fail, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw fail(where, `expected an integer, got ${show(value)}`);
  if (value < min || value > max) throw fail(where, `expected an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/** A finite number accepted by `ok` (described by `range`). */
export function finite(value: unknown, where: string, fail: Fail, ok: (x: number) => boolean = () => true, range = ''): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(where, `expected a finite number, got ${show(value)}`);
  if (!ok(value)) throw fail(where, `expected a number ${range}, got ${value}`);
  return value;
}

/** A boolean. */
export function boolean(value: unknown, where: string, fail: Fail): boolean {
  if (typeof value !== 'boolean') throw fail(where, `expected true or false, got ${show(value)}`);
  return value;
}

/** One of `allowed`. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string, fail: Fail): T {
  if (!allowed.includes(value as T)) throw fail(where, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(value)}`);
  return value as T;
}

/** An array whose items `item` validates (it receives the item's path). */
export function array<T>(value: unknown, where: string, fail: Fail, item: (v: unknown, where: string) => T): T[] {
  if (!Array.isArray(value)) throw fail(where, `expected an array, got ${show(value)}`);
  return value.map((v, i) => item(v, `${where}[${i}]`));
}
