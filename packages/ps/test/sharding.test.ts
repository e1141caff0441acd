import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignShards, elementCount, splitByShard } from '../src/index';
import { controllerTensors } from './helpers';

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 48271) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test('sharding is balanced: the largest shard exceeds the mean by at most one tensor', () => {
  const specs = controllerTensors();
  const total = specs.reduce((a, t) => a + t.data.length, 0);
  const largestTensor = Math.max(...specs.map((t) => t.data.length));
  for (const s of [1, 2, 3, 5, 20]) {
    const a = assignShards(specs, s);
    assert.equal(a.sizes.reduce((x, y) => x + y, 0), total);
    assert.ok(Math.max(...a.sizes) <= total / s + largestTensor, `S=${s}: ${a.sizes.join(',')}`);
    assert.equal(a.shardOf.size, specs.length);
  }
  // Many equal tensors spread evenly.
  const equal = Array.from({ length: 12 }, (_, i) => ({ name: `t${i}`, shape: [10] }));
  assert.deepEqual(assignShards(equal, 4).sizes, [30, 30, 30, 30]);
});

test('sharding is deterministic: same names and shapes give the same assignment in any order', () => {
  const specs = controllerTensors().map((t) => ({ name: t.name, shape: t.shape }));
  const reference = assignShards(specs, 3);
  for (let seed = 1; seed < 20; seed++) {
    const a = assignShards(shuffled(specs, seed), 3);
    assert.deepEqual([...a.shardOf.entries()].sort(), [...reference.shardOf.entries()].sort());
    assert.deepEqual(a.names, reference.names);
  }
});

test('the documented rule: largest first, ties by name, to the emptiest shard, ties to the lowest index', () => {
  const a = assignShards(
    [
      { name: 'c', shape: [5] },
      { name: 'b', shape: [5] },
      { name: 'a', shape: [8] },
      { name: 'd', shape: [2] },
    ],
    2,
  );
  // a(8)→0, b(5)→1, c(5)→1 (5<8), d(2)→0 (8<10)
  assert.deepEqual(a.names, [['a', 'd'], ['b', 'c']]);
  assert.deepEqual(a.sizes, [10, 10]);
});

test('sharding refuses duplicate names and a bad shard count; more shards than tensors leaves some empty', () => {
  assert.throws(() => assignShards([{ name: 'x', shape: [1] }, { name: 'x', shape: [2] }], 2), /'x' appears twice/);
  assert.throws(() => assignShards([], 0), /shard count/);
  const a = assignShards([{ name: 'x', shape: [3] }], 3);
  assert.deepEqual(a.sizes, [3, 0, 0]);
  const parts = splitByShard([{ name: 'x' }], a);
  assert.deepEqual(parts.map((p) => p.length), [1, 0, 0]);
  assert.throws(() => splitByShard([{ name: 'y' }], a), /'y' is not part/);
  assert.equal(elementCount([3]), 3);
});
