import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runNasrl, type CliRun } from '../src/testing';
import { lastJson as lastLine } from './helpers';

// Tiny runs: 50 training images, 1 epoch, 100 test images, children of two or three small layers.
const TINY = ['--subset', '50', '--epochs', '1', '--test-subset', '100', '--json'];
const lastJson = (run: CliRun): TrainJson => lastLine<TrainJson>(run);
const nasrl = (args: string[], timeoutMs = 180_000): Promise<CliRun> => runNasrl(args, {}, timeoutMs);

/** A small conv child whose parameter count tells it apart from the others. */
function arch(filters: number, layers = 2): { layers: object[] } {
  return { layers: Array.from({ length: layers }, (_, i) => ({ filterHeight: 3, filterWidth: 3, filters, ...(i > 0 ? { inputs: [i - 1] } : {}) })) };
}

interface TrainJson {
  architecture: string;
  final: boolean;
  validationAccuracy: number | null;
  testAccuracy: number | null;
  curve: number[];
  curveSplit: string;
  parameters: number;
  seconds: number;
  backend: string;
  dataset: { name: string; train: number; validation: number; test: number; trainedOn: number };
}


function isAccuracy(v: unknown): boolean {
  return typeof v === 'number' && v >= 0 && v <= 1;
}

function withDir(body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-train-arch-'));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('--help of train-arch, bench train and bench cluster prints the usage and exits 0; nasrl --help lists every command', async () => {
  for (const [args, usage] of [
    [['train-arch', '--help'], /^usage: nasrl train-arch ARCH\|reference .*--final/m],
    [['bench', 'train', '--help'], /^usage: nasrl bench train \[--backends/m],
    [['bench', 'cluster', '--help'], /^usage: nasrl bench cluster \[--archs N\]/m],
    [['help', 'train-arch'], /^usage: nasrl train-arch /m],
  ] as const) {
    const r = await nasrl([...args]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, usage);
    assert.match(r.stdout, /--help +print this and exit/);
  }
  for (const help of ['--help', 'help']) {
    const r = await nasrl([help]);
    assert.equal(r.code, 0, r.output);
    for (const command of ['bench nb201', 'bench table', 'bench train', 'bench cluster', 'train-arch', 'local', 'status', 'top', 'export']) {
      assert.match(r.stdout, new RegExp(`^  nasrl ${command} `, 'm'), `nasrl ${help} lists ${command}`);
    }
  }
  const unknown = await nasrl(['train-arch', 'reference', '--epoch', '1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --epoch/);
});

test('best.json: trains best.architecture and prints the validation and the test accuracy', withDir(async (dir) => {
  const best = { id: 'exp.7', index: 7, architecture: arch(12, 3), reward: 0.3, accuracy: 0.67 };
  const file = path.join(dir, 'best.json');
  writeFileSync(file, JSON.stringify({ experiment: 'exp', evaluations: 9, best, top: [best] }, null, 2));
  const r = await nasrl(['train-arch', file, ...TINY]);
  const j = lastJson(r);
  assert.match(r.stdout, /^architecture: best\.architecture \(child exp\.7, search accuracy 0\.6700\), 3 layers$/m);
  assert.match(r.stdout, /^fashion-mnist: 50 training, 10 validation, 100 test images/m);
  assert.match(r.stdout, /^validation accuracy \d\.\d{4} \(after the last epoch, 10 images\)$/m);
  assert.match(r.stdout, /^test accuracy \d\.\d{4} \(100 held-out images, evaluated once after the last epoch\)$/m);
  assert.equal(j.final, false);
  assert.ok(isAccuracy(j.validationAccuracy) && isAccuracy(j.testAccuracy), JSON.stringify(j));
  assert.equal(j.validationAccuracy, j.curve.at(-1));
  assert.equal(j.curveSplit, 'validation');
  assert.deepEqual(j.dataset, { name: 'fashion-mnist', train: 50, validation: 10, test: 100, trainedOn: 50 });
  assert.ok(j.parameters > 0 && j.parameters !== 127_954, `parameters of the 3-layer child, got ${j.parameters}`);
  assert.ok(j.seconds > 0 && typeof j.backend === 'string');
}));

test('results.jsonl: the highest reward by default, --id and --line pick a line; a saved line is read too', withDir(async (dir) => {
  const lines = [
    { id: 'e.1', index: 1, architecture: arch(4), reward: 0.2, accuracy: 0.58 },
    { id: 'e.2', index: 2, architecture: arch(6), reward: 0.7, accuracy: 0.89 },
    { id: 'e.3', index: 3, architecture: arch(8), reward: 0.4, accuracy: 0.74 },
  ];
  const file = path.join(dir, 'results.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const single = path.join(dir, 'line.json');
  writeFileSync(single, `${JSON.stringify(lines[0])}\n`);
  const runs = {
    best: lastJson(await nasrl(['train-arch', file, ...TINY])),
    id: lastJson(await nasrl(['train-arch', file, '--id', 'e.3', ...TINY])),
    line: lastJson(await nasrl(['train-arch', file, '--line', '1', ...TINY])),
    single: lastJson(await nasrl(['train-arch', single, ...TINY])),
  };
  assert.equal(runs.best.architecture, 'line 2 (child e.2, reward 0.7000)');
  assert.equal(runs.id.architecture, 'line 3 (child e.3, reward 0.4000)');
  assert.equal(runs.line.architecture, 'line 1 (child e.1, reward 0.2000)');
  assert.equal(runs.single.architecture, 'line 1 (child e.1, reward 0.2000)');
  // More filters, more parameters: each run trained the line it names.
  assert.ok(runs.line.parameters < runs.best.parameters && runs.best.parameters < runs.id.parameters, JSON.stringify(runs));
  assert.equal(runs.single.parameters, runs.line.parameters);
  for (const j of Object.values(runs)) assert.ok(isAccuracy(j.testAccuracy));
  const missing = await nasrl(['train-arch', file, '--id', 'e.9', ...TINY]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /results\.jsonl: --id e\.9: no line has that child id \(3 results\)/);
  const both = await nasrl(['train-arch', file, '--id', 'e.1', '--line', '2']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--id and --line both pick a line/);
}));

test('--final trains on train + validation and reports the test accuracy after the last epoch', async () => {
  const r = await nasrl(['train-arch', 'reference', '--final', ...TINY]);
  const j = lastJson(r);
  assert.match(r.stdout, /^epoch 1\/1 .* test accuracy \d\.\d{4} /m);
  assert.match(r.stdout, /^test accuracy \d\.\d{4} \(trained on 60 train\+validation images, 1 epoch\)$/m);
  assert.doesNotMatch(r.stdout, /^validation accuracy/m);
  assert.equal(j.final, true);
  assert.equal(j.validationAccuracy, null);
  assert.ok(isAccuracy(j.testAccuracy));
  assert.equal(j.testAccuracy, j.curve.at(-1));
  assert.equal(j.curveSplit, 'test');
  assert.deepEqual(j.dataset, { name: 'fashion-mnist', train: 50, validation: 10, test: 100, trainedOn: 60 });
  assert.equal(j.parameters, 127_954);
  const noTest = await nasrl(['train-arch', 'reference', '--final', '--no-test']);
  assert.equal(noTest.code, 2);
  assert.match(noTest.stderr, /--final reports the test accuracy/);
});

test('--lr sets the initial learning rate of the cosine schedule; a rate that is not positive is refused', async () => {
  const args = ['train-arch', 'reference', '--subset', '50', '--epochs', '2', '--no-test'];
  const base = await nasrl(args);
  assert.equal(base.code, 0, base.output);
  // After the first of two epochs the cosine schedule is at half its initial rate.
  assert.match(base.stdout, /^epoch 1\/2 .* lr 0\.0500 /m);
  const slow = await nasrl([...args, '--lr', '0.03']);
  assert.equal(slow.code, 0, slow.output);
  assert.match(slow.stdout, /^epoch 1\/2 .* lr 0\.0150 /m);
  for (const bad of ['0', '-1', 'fast']) {
    const r = await nasrl([...args, '--lr', bad]);
    assert.equal(r.code, 2, `--lr ${bad}: ${r.output}`);
    assert.match(r.stderr, /--lr: expected a (positive learning rate|number in \[0, 10\])/, bad);
  }
});

test('a malformed best.json, results.jsonl or architecture is an error naming the file and the problem', withDir(async (dir) => {
  const cases: [string, string, RegExp][] = [
    ['no-arch.json', JSON.stringify({ experiment: 'e', evaluations: 1, best: { id: 'e.1', reward: 0.5 }, top: [] }), /no-arch\.json: best\.architecture is missing/],
    ['null.json', JSON.stringify({ experiment: 'e', evaluations: 0, best: null, top: [] }), /null\.json: best is null: the experiment had evaluated no architecture/],
    ['bad-layer.json', JSON.stringify({ experiment: 'e', evaluations: 1, best: { id: 'e.1', architecture: { layers: [{ filterHeight: 3, filterWidth: 3, filters: 0 }] } } }),
      /bad-layer\.json: best\.architecture is not a convolutional architecture: architecture\.layers\[0\]\.filters: expected a positive integer, got 0/],
    ['cut.json', '{"experiment": "e", "best": {"architecture": {"layers": [', /cut\.json: not JSON/],
    ['lines.jsonl', `${JSON.stringify({ id: 'a', reward: 0.1, architecture: arch(4) })}\n{"id": "b", "rew\n`, /lines\.jsonl: line 2 is not JSON/],
    ['nb201.jsonl', `${JSON.stringify({ id: 'a', reward: 0.1, architecture: { cells: [1, 2] } })}\n${JSON.stringify({ id: 'b', reward: 0.2, architecture: { cells: [3] } })}\n`,
      /nb201\.jsonl: line 2\.architecture is not a convolutional architecture: /],
  ];
  for (const [name, text, message] of cases) {
    writeFileSync(path.join(dir, name), text);
    const r = await nasrl(['train-arch', path.join(dir, name), ...TINY]);
    assert.equal(r.code, 1, `${name}: ${r.output}`);
    assert.match(r.stderr, message, name);
    assert.doesNotMatch(r.stdout, /^epoch/m, `${name}: nothing is trained`);
  }
  const absent = await nasrl(['train-arch', path.join(dir, 'absent.json')]);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /absent\.json: no such file \(expected ARCH\.json, best\.json, results\.jsonl or "reference"\)/);
}));
