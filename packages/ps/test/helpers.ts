import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toWire, type LogRecord, type NamedTensor, type WireTensor } from '../src/index';

/** A named tensor filled by `f(i)`. */
export function tensor(name: string, shape: number[], f: (i: number) => number = () => 0): NamedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: Float32Array.from({ length: n }, (_, i) => f(i)) };
}

/** Wire form of `tensor(...)`. */
export function wire(name: string, shape: number[], f: (i: number) => number = () => 0): WireTensor {
  return toWire(tensor(name, shape, f));
}

/** A fresh temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'nasrl-ps-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A logger that keeps its records. */
export function collectingLogger(): { log: (r: LogRecord) => void; records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { log: (r) => records.push(r), records };
}

/** A small controller-like parameter set (names and shapes in the style of an LSTM + heads). */
export function controllerTensors(hidden = 35, seed = 1): NamedTensor[] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 0.16 - 0.08;
  };
  return [
    tensor('lstm/0/kernel', [2 * hidden, 4 * hidden], rnd),
    tensor('lstm/0/bias', [4 * hidden], rnd),
    tensor('lstm/1/kernel', [2 * hidden, 4 * hidden], rnd),
    tensor('lstm/1/bias', [4 * hidden], rnd),
    tensor('embed/filter_height', [4, hidden], rnd),
    tensor('embed/filter_width', [4, hidden], rnd),
    tensor('head/filter_height/kernel', [hidden, 4], rnd),
    tensor('head/filter_width/kernel', [hidden, 4], rnd),
    tensor('head/filters/kernel', [hidden, 4], rnd),
    tensor('anchor/w_prev', [hidden, hidden], rnd),
    tensor('anchor/w_curr', [hidden, hidden], rnd),
    tensor('anchor/v', [hidden], rnd),
  ];
}
