import { InvalidRequestError, ParameterServerConfigError } from './errors';
import { elementCount, type TensorSpec } from './tensor';

/** Where each tensor of a parameter set lives: `shardOf` by name, and each shard's names in sorted order. */
export interface ShardAssignment {
  shardCount: number;
  /** Tensor name → shard index. */
  shardOf: ReadonlyMap<string, number>;
  /** For each shard, the names it holds, sorted by UTF-16 code units. */
  names: readonly (readonly string[])[];
  /** For each shard, the number of float32 values it holds. */
  sizes: readonly number[];
}

/**
 * Assigns named tensors to `shardCount` shards, balanced by size and deterministic.
 *
 * The rule (every process must compute the same answer from the same names and shapes, whatever order it
 * lists them in): sort the tensors by element count, largest first, ties broken by name in UTF-16 code-unit order;
 * then give each tensor to the shard with the fewest elements so far, ties broken by the lowest shard index.
 * This is the LPT greedy rule: the largest shard exceeds the mean by at most the size of one tensor.
 * Names must be unique. A shard may end up empty when there are fewer tensors than shards.
 */
export function assignShards(specs: readonly TensorSpec[], shardCount: number): ShardAssignment {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new ParameterServerConfigError(`shard count must be a positive integer, got ${String(shardCount)}`);
  }
  const sized = specs.map((s) => ({ name: s.name, size: elementCount(s.shape, `tensor '${s.name}'`) }));
  sized.sort((a, b) => b.size - a.size || compareCodePoints(a.name, b.name));
  const names: string[][] = Array.from({ length: shardCount }, () => []);
  const sizes: number[] = new Array<number>(shardCount).fill(0);
  const shardOf = new Map<string, number>();
  for (const { name, size } of sized) {
    if (shardOf.has(name)) throw new InvalidRequestError(`tensor name '${name}' appears twice`);
    let best = 0;
    for (let s = 1; s < shardCount; s++) if ((sizes[s] as number) < (sizes[best] as number)) best = s;
    shardOf.set(name, best);
    sizes[best] = (sizes[best] as number) + size;
    (names[best] as string[]).push(name);
  }
  for (const list of names) list.sort(compareCodePoints);
  return { shardCount, shardOf, names, sizes };
}

/** Splits tensors (or anything with a name) by an assignment; throws InvalidRequestError for an unassigned name. */
export function splitByShard<T extends { name: string }>(items: readonly T[], assignment: ShardAssignment): T[][] {
  const out: T[][] = Array.from({ length: assignment.shardCount }, () => []);
  for (const item of items) {
    const s = assignment.shardOf.get(item.name);
    if (s === undefined) throw new InvalidRequestError(`tensor '${item.name}' is not part of the sharded parameter set`);
    (out[s] as T[]).push(item);
  }
  return out;
}

/** Compares strings by UTF-16 code units, independent of locale (localeCompare is not stable across hosts). */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
