import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArchitectureError, NAS_CELL, parseRnnCell, rnnCellKey, rnnCellTree, RnnSpace, tokenCount, type RnnCell } from '../src';

/** A small deterministic generator (mulberry32), so that failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTokens(space: RnnSpace, random: () => number): number[] {
  return space.tokenSizes().map((n) => Math.floor(random() * n));
}

/** The cell with the subtrees under internal node `n` exchanged (node ops and cell indices move with them). */
function swapChildren(cell: RnnCell, n: number): RnnCell {
  const tree = rnnCellTree(cell.base);
  const perm = tree.map((_, i) => i);
  const pair = (a: number, b: number): void => {
    perm[a] = b;
    perm[b] = a;
    const ca = tree[a]?.children;
    const cb = tree[b]?.children;
    if (ca && cb) {
      pair(ca[0], cb[0]);
      pair(ca[1], cb[1]);
    }
  };
  const children = tree[n]?.children;
  assert.ok(children, `node ${n} is internal`);
  pair(children[0], children[1]);
  const nodes = [...cell.nodes];
  cell.nodes.forEach((op, i) => (nodes[perm[i] as number] = op));
  return { ...cell, nodes, memoryOut: perm[cell.memoryOut] as number, memoryIn: perm[cell.memoryIn] as number };
}

test('the rnn space emits a (combination, activation) pair per node, the inject pair and two cell indices: 34 tokens at base 8, 10 at base 2', () => {
  const space = new RnnSpace();
  assert.equal(space.base, 8);
  assert.equal(tokenCount(space.decisions()), 34);
  assert.deepEqual(space.tokenSizes().length, 34);
  const types = space.decisions().map((d) => (d.kind === 'categorical' ? d.type : 'anchor'));
  assert.deepEqual(types.slice(0, 4), ['combination', 'activation', 'combination', 'activation']);
  assert.deepEqual(types.slice(30), ['combination', 'activation', 'memory_out', 'memory_in']);
  assert.deepEqual(space.tokenSizes().slice(30), [2, 4, 15, 15]);
  assert.deepEqual(space.tokenTypes.map((t) => [t.name, t.choices.length]), [['combination', 2], ['activation', 4], ['memory_out', 15], ['memory_in', 15]]);
  const small = new RnnSpace({ base: 2 });
  assert.equal(tokenCount(small.decisions()), 3 * 2 + 2 + 2);
  assert.deepEqual(small.tokenSizes(), [2, 4, 2, 4, 2, 4, 2, 4, 3, 3]);
});

test('the tree numbers leaves first and each level upwards; node (level l, position j) reads positions 2j and 2j+1 below', () => {
  const tree = rnnCellTree(8);
  assert.equal(tree.length, 15);
  assert.deepEqual(tree.slice(0, 8).map((n) => n.children), Array(8).fill(null));
  assert.deepEqual(tree[8], { index: 8, level: 1, position: 0, children: [0, 1], parent: 12 });
  assert.deepEqual(tree[11]?.children, [6, 7]);
  assert.deepEqual(tree[12]?.children, [8, 9]);
  assert.deepEqual(tree[13]?.children, [10, 11]);
  assert.deepEqual(tree[14], { index: 14, level: 3, position: 0, children: [12, 13], parent: null });
  assert.deepEqual(rnnCellTree(2).map((n) => n.children), [null, null, [0, 1]]);
});

test('nascell: its tokens decode to the published cell and it survives JSON', () => {
  const space = new RnnSpace({ base: 8 });
  const tokens = space.encode(NAS_CELL);
  // Leaves: σ(add) relu(add) σ(add) relu(mul) tanh(add) σ(add) tanh(add) σ(add); add=0 mul=1, identity=0 tanh=1 sigmoid=2 relu=3.
  assert.deepEqual(tokens.slice(0, 16), [0, 2, 0, 3, 0, 2, 1, 3, 0, 1, 0, 2, 0, 1, 0, 2]);
  assert.deepEqual(tokens.slice(16), [1, 1, 0, 1, 1, 1, 0, 2, 1, 0, 0, 1, 1, 1, 0, 1, 12, 8]);
  assert.deepEqual(space.decode(tokens), NAS_CELL);
  assert.deepEqual(space.parse(JSON.parse(JSON.stringify(space.toJSON(NAS_CELL)))), NAS_CELL);
});

for (const base of [2, 8]) {
  test(`decode(encode(x)) = x for 300 random cells of base ${base}, and their JSON round-trips`, () => {
    const space = new RnnSpace({ base });
    const random = rng(base * 101);
    for (let k = 0; k < 300; k++) {
      const tokens = randomTokens(space, random);
      const cell = space.decode(tokens);
      assert.deepEqual(space.decode(space.encode(cell)), cell);
      assert.deepEqual(space.encode(cell), tokens);
      const again = space.parse(JSON.parse(JSON.stringify(space.toJSON(cell))));
      assert.deepEqual(again, cell);
      assert.equal(space.key(again), space.key(cell));
    }
  });
}

test('the canonical key is invariant to swapping the children of any internal node, and changes with any op', () => {
  for (const base of [2, 4, 8]) {
    const space = new RnnSpace({ base });
    const random = rng(base * 7);
    const internal = rnnCellTree(base).filter((n) => n.children !== null).map((n) => n.index);
    let tokensChanged = 0;
    for (let k = 0; k < 200; k++) {
      const cell = space.decode(randomTokens(space, random));
      const n = internal[Math.floor(random() * internal.length)] as number;
      const swapped = swapChildren(cell, n);
      assert.equal(space.key(swapped), space.key(cell), `swap under node ${n} of ${JSON.stringify(space.toJSON(cell))}`);
      if (space.encode(swapped).join() !== space.encode(cell).join()) tokensChanged++;
      // A different activation at one node is a different function: the key must see it.
      const i = Math.floor(random() * cell.nodes.length);
      const op = cell.nodes[i] as RnnCell['nodes'][number];
      const nodes = [...cell.nodes];
      nodes[i] = { ...op, activation: op.activation === 'tanh' ? 'sigmoid' : 'tanh' };
      assert.notEqual(space.key({ ...cell, nodes }), space.key(cell));
    }
    assert.ok(tokensChanged > 150, `most swaps change the tokens (${tokensChanged} of 200)`);
  }
});

test('base 2: two cells share a key exactly when one is the other with the leaves swapped (all 36,864 cells)', () => {
  const space = new RnnSpace({ base: 2 });
  const sizes = space.tokenSizes();
  const keys = new Set<string>();
  const orbits = new Set<string>();
  const tokens = sizes.map(() => 0);
  for (;;) {
    const cell = space.decode(tokens);
    keys.add(space.key(cell));
    const a = tokens.join();
    const b = space.encode(swapChildren(cell, 2)).join();
    orbits.add(a < b ? a : b);
    let p = 0;
    while (p < sizes.length && ++(tokens[p] as number) === sizes[p]) tokens[p++] = 0;
    if (p === sizes.length) break;
  }
  assert.equal(orbits.size, keys.size);
  assert.ok(keys.size > 18000 && keys.size < 36864);
});

test('bad cells and tokens get errors that name the problem', () => {
  const space = new RnnSpace({ base: 2 });
  const good = space.toJSON(space.decode([0, 1, 1, 2, 0, 3, 0, 1, 2, 0])) as Record<string, unknown>;
  const bad = (json: unknown, pattern: RegExp): void => {
    assert.throws(() => space.parse(json), (err: unknown) => err instanceof InvalidArchitectureError && pattern.test(err.message));
  };
  bad({ ...good, base: 3 }, /architecture\.base: 3 is not a power of two/);
  bad({ ...good, nodes: (good.nodes as unknown[]).slice(1) }, /architecture\.nodes: a cell of base 2 has 3 nodes .* got 2/);
  bad({ ...good, nodes: [{ combination: 'add', activation: 'softsign' }, ...(good.nodes as unknown[]).slice(1)] }, /architecture\.nodes\[0\]\.activation: "softsign" is not one of/);
  bad({ ...good, inject: { combination: 'max', activation: 'tanh' } }, /architecture\.inject\.combination: "max"/);
  bad({ ...good, memoryOut: 3 }, /architecture\.memoryOut: 3 is not a node of this cell \(0\.\.2\)/);
  bad({ ...good, memoryIn: 1.5 }, /architecture\.memoryIn: expected an integer/);
  bad({ ...good, extra: 1 }, /architecture: unknown key "extra"/);
  bad({ ...good, space: 'conv' }, /architecture\.space: expected "rnn"/);
  bad(NAS_CELL, /architecture\.base: 8 differs from this rnn space's base 2/);
  assert.throws(() => space.decode([0, 1, 1]), /tokens: expected 10 tokens, got 3/);
  assert.throws(() => space.decode([0, 1, 1, 2, 0, 3, 0, 1, 2, 3]), /tokens\[9\]: 3 is not a choice index in \[0, 2\]/);
  assert.throws(() => new RnnSpace({ base: 6 }), /rnn space option base: 6 is not a power of two/);
  assert.throws(() => space.encode({ ...NAS_CELL }), /differs from this rnn space's base/);
  assert.deepEqual(parseRnnCell(space.toJSON(NAS_CELL)), NAS_CELL, 'parseRnnCell takes any base');
  assert.equal(rnnCellKey(NAS_CELL).startsWith('rnn8:mul:tanh('), true);
});
