import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConvSpace, InvalidArchitectureError, parseConvArchitecture, reductionLayers } from '../src';

const SMALL = {
  filterHeights: [1, 3, 5], filterWidths: [1, 3, 5], filterCounts: [8, 16, 24, 32],
  reductions: 2, unconnected: 'previous' as const, merge: 'pool' as const, classifier: 'flatten' as const,
  initialLayers: 4, layersPerIncrease: 1, architecturesPerIncrease: 40, maxLayers: 6,
};

test('reductions stride the first layer and then evenly spaced ones', () => {
  assert.deepEqual(reductionLayers(4, 2), [0, 2]);
  assert.deepEqual(reductionLayers(5, 2), [0, 2]);
  assert.deepEqual(reductionLayers(6, 2), [0, 3]);
  assert.deepEqual(reductionLayers(6, 3), [0, 2, 4]);
  assert.deepEqual(reductionLayers(2, 3), [0, 1], 'never more reductions than layers');
  assert.deepEqual(reductionLayers(5, 0), []);
});

test('the small space decodes fixed strides, reads the previous layer when no anchor fires, and round-trips', () => {
  const space = new ConvSpace(SMALL);
  const random = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648); })();
  for (let trial = 0; trial < 200; trial++) {
    const layers = 4 + (trial % 3);
    const tokens = space.tokenSizes(layers).map((c) => Math.floor(random() * c));
    const arch = space.decode(tokens, layers);
    const reduced = reductionLayers(layers, 2);
    arch.layers.forEach((l, i) => {
      const stride = reduced.includes(i) ? 2 : 1;
      assert.equal(l.strideHeight, stride);
      assert.equal(l.strideWidth, stride);
      if (i > 0) assert.ok(l.inputs.length > 0, `layer ${i} of ${space.key(arch)} reads an earlier layer, never the image`);
    });
    assert.equal(arch.merge, 'pool');
    assert.equal(arch.classifier, 'flatten');
    assert.deepEqual(space.decode(space.encode(arch), layers), arch, 'decode(encode(x)) = x');
    const json = JSON.parse(JSON.stringify(space.toJSON(arch))) as unknown;
    assert.deepEqual(space.parse(json), arch, 'the JSON form parses back to the same architecture');
    assert.equal(space.key(space.parse(json)), space.key(arch));
  }
  // All anchors off: every layer after the first reads its predecessor.
  const zeros = space.decode(space.tokenSizes(4).map(() => 0), 4);
  assert.deepEqual(zeros.layers.map((l) => l.inputs), [[], [0], [1], [2]]);
});

test('the paper space keeps its JSON and key: no merge or classifier fields, layers without inputs read the image', () => {
  const space = new ConvSpace();
  const arch = space.decode(space.tokenSizes(6).map(() => 0), 6);
  assert.deepEqual(arch.layers.map((l) => l.inputs), [[], [], [], [], [], []]);
  assert.equal('merge' in arch, false);
  assert.equal('classifier' in arch, false);
  assert.equal(space.key(arch).includes('#'), false);
  assert.equal(JSON.stringify(space.toJSON(arch)).includes('merge'), false);
});

test('architectures that a space cannot produce are refused with the reason', () => {
  const small = new ConvSpace(SMALL);
  const arch = small.decode(small.tokenSizes(4).map(() => 1), 4);
  const json = small.toJSON(arch) as { layers: Record<string, unknown>[]; merge?: string };
  const wrongStride = { ...json, layers: json.layers.map((l, i) => (i === 1 ? { ...l, strideHeight: 2, strideWidth: 2 } : l)) };
  assert.throws(() => small.parse(wrongStride), (e: unknown) => e instanceof InvalidArchitectureError && /layers\[1\]: stride 2x2, this space fixes it to 1x1/.test(e.message));
  const imageInput = { ...json, layers: json.layers.map((l, i) => (i === 3 ? { ...l, inputs: [] } : l)) };
  assert.throws(() => small.parse(imageInput), /layers\[3\]: reads the image/);
  assert.throws(() => small.parse({ ...json, merge: 'pad' }), /merge pad and classifier flatten differ/);
  assert.throws(() => parseConvArchitecture({ ...json, merge: 'sum' }), /architecture.merge: "sum" is not one of/);
  assert.throws(() => parseConvArchitecture({ ...json, classifier: 'svm' }), /architecture.classifier: "svm" is not one of/);
  assert.throws(() => new ConvSpace({ reductions: 1, strides: [1, 2] }), /reductions fix the strides/);
  assert.throws(() => new ConvSpace({ reductions: -1 }), /reductions: expected an integer ≥ 0/);
  assert.throws(() => new ConvSpace({ unconnected: 'none' as never }), /unconnected/);
});
