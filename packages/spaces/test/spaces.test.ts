import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConvSpace,
  InvalidArchitectureError,
  Nb201Space,
  parseConvArchitecture,
  parseNb201String,
  parseTableSpace,
  SpaceFileError,
  tokenCount,
} from '../src';

test('the conv space emits anchor, height, width, filters per layer and round-trips architectures', () => {
  const space = new ConvSpace({ strides: [1, 2, 3] });
  const decisions = space.decisions(3);
  assert.deepEqual(decisions.map((d) => (d.kind === 'anchor' ? `anchor${d.layer}` : d.type)), [
    'anchor0', 'filter_height', 'filter_width', 'filters', 'stride_height', 'stride_width',
    'anchor1', 'filter_height', 'filter_width', 'filters', 'stride_height', 'stride_width',
    'anchor2', 'filter_height', 'filter_width', 'filters', 'stride_height', 'stride_width',
  ]);
  assert.equal(tokenCount(decisions), 3 * 5 + 0 + 1 + 2);
  const tokens = [1, 2, 3, 0, 1, /* layer 1 */ 1, 0, 0, 1, 2, 2, /* layer 2 */ 0, 1, 3, 3, 3, 0, 0];
  const arch = space.decode(tokens, 3);
  assert.deepEqual(arch.layers[0], { type: 'conv', filterHeight: 3, filterWidth: 5, filters: 64, strideHeight: 1, strideWidth: 2, inputs: [] });
  assert.deepEqual(arch.layers[1]?.inputs, [0]);
  assert.deepEqual(arch.layers[2]?.inputs, [1]);
  assert.equal(arch.layers[2]?.strideHeight, 1);
  assert.deepEqual(space.encode(arch), tokens);
  assert.deepEqual(space.decode(tokens), arch, 'the depth follows from the token count');
  assert.deepEqual(space.parse(space.toJSON(arch)), arch);
  assert.equal(space.key(arch), space.key(space.parse(JSON.parse(JSON.stringify(space.toJSON(arch))))));
});

test('the depth schedule starts at 6 layers and adds 2 every 1,600 architectures', () => {
  const space = new ConvSpace();
  assert.equal(space.depthAfter(0), 6);
  assert.equal(space.depthAfter(1599), 6);
  assert.equal(space.depthAfter(1600), 8);
  assert.equal(space.depthAfter(12799), 20);
  assert.equal(new ConvSpace({ maxLayers: 10 }).depthAfter(100000), 10);
  assert.equal(new ConvSpace({ initialLayers: 2, layersPerIncrease: 1, architecturesPerIncrease: 10 }).depthAfter(25), 4);
});

test('without anchor points conv layers form a chain', () => {
  const space = new ConvSpace({ anchors: false });
  const arch = space.decode([0, 0, 0, 1, 1, 1], 2);
  assert.deepEqual(arch.layers.map((l) => l.inputs), [[], [0]]);
});

test('bad conv architectures and options get errors that name the place', () => {
  const space = new ConvSpace();
  assert.throws(() => space.decode([9, 0, 0], 1), /tokens\[0\]: 9 is not a choice index in \[0, 3\]/);
  assert.throws(() => space.decode([0, 0], 1), /expected 3 tokens, got 2/);
  assert.throws(() => parseConvArchitecture({ layers: [{ filterHeight: 3, filterWidth: 3, filters: 24, inputs: [0] }] }), /layers\[0\]\.inputs\[0\]: 0 is not an earlier layer/);
  assert.throws(() => parseConvArchitecture({ layers: [{ filterHeight: 3, filterWidth: 3 }] }), /layers\[0\]\.filters: expected an integer, got nothing/);
  assert.throws(() => parseConvArchitecture({ layers: [{ filterHeight: 3, filterWidth: 3, filters: 24, colour: 1 }] }), /unknown key "colour"/);
  assert.throws(() => space.parse({ layers: [{ filterHeight: 2, filterWidth: 3, filters: 24 }] }), /layers\[0\]\.filterHeight: 2 is not in this space/);
  assert.throws(() => new ConvSpace({ initialLayers: 30, maxLayers: 24 }), /initialLayers \(30\) exceeds maxLayers \(24\)/);
  assert.throws(() => new ConvSpace({ filterCounts: [0] }), InvalidArchitectureError);
});

test('NAS-Bench-201 strings parse, print and encode', () => {
  const space = new Nb201Space();
  const text = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|';
  const arch = parseNb201String(text);
  assert.deepEqual(space.encode(arch), [3, 3, 3, 1, 2, 3]);
  assert.equal(space.key(space.decode([3, 3, 3, 1, 2, 3])), text);
  assert.deepEqual(space.parse({ arch: text }), arch);
  assert.throws(() => parseNb201String('|conv~0|+|x~0|y~1|+|a~0|b~1|c~2|'), /edge 0->1 has unknown op "conv"/);
  assert.throws(() => parseNb201String('nonsense'), /expected the form/);
});

test('table space files are parsed and every error names the file and place', () => {
  const good = {
    name: 'tiny',
    tokens: [{ name: 'op', choices: ['a', 'b'] }, { name: 'width', choices: ['8', '16'] }],
    entries: [{ tokens: ['a', '8'], reward: 0.5, test: 0.4, seconds: 10 }, { tokens: ['b', '16'], reward: 0.7 }],
  };
  const space = parseTableSpace(JSON.stringify(good), 'tiny.json');
  assert.deepEqual(space.lookup([1, 1]), { tokens: [1, 1], reward: 0.7 });
  assert.equal(space.lookup([0, 1]), undefined);
  assert.deepEqual(space.decode([1, 0]), { tokens: ['b', '8'] });
  const bad = (mutate: (j: typeof good) => unknown, pattern: RegExp): void => {
    const copy = JSON.parse(JSON.stringify(good)) as typeof good;
    assert.throws(() => parseTableSpace(JSON.stringify(mutate(copy)), 'tiny.json'), (err: unknown) => err instanceof SpaceFileError && pattern.test(err.message));
  };
  bad((j) => ({ ...j, entries: [{ tokens: ['a', '32'], reward: 1 }] }), /^tiny\.json: entries\[0\]\.tokens\[1\]: "32" is not a choice of token "width"/);
  bad((j) => ({ ...j, entries: [{ tokens: ['a', '8'], reward: 'high' }] }), /entries\[0\]\.reward: expected a finite number/);
  bad((j) => ({ ...j, entries: [{ tokens: ['a'], reward: 1 }] }), /entries\[0\]\.tokens: expected 2 tokens, got 1/);
  bad((j) => ({ ...j, entries: [...j.entries, { tokens: ['a', '8'], reward: 1 }] }), /entries\[2\]: the same tokens appear in an earlier entry/);
  bad((j) => ({ ...j, tokens: [] }), /tokens: needs at least one token/);
  assert.throws(() => parseTableSpace('{not json', 'broken.json'), /^SpaceFileError|broken\.json: not valid JSON/);
});
