import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NB201_OPS, nb201String } from '@nasrl/spaces';

/** Per-edge op values of a separable synthetic landscape: conv3x3 best on every edge. */
const VALUE = [0, 2, 4, 6, 1];

/**
 * Writes a complete NAS-Bench-201-shaped CSV (15,625 rows) whose valid accuracy is a separable function of the
 * ops, test = valid + 10, and every architecture costs `seconds200` (so 12,000 s buys 12000 / (0.06·seconds200)).
 * With `canonical`, a `unique` column holds its key of each architecture's ops (an edge index per op).
 */
export function writeSyntheticNb201(seconds200 = 1000, canonical?: (ops: readonly number[]) => string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-nb201-'));
  const file = path.join(dir, 'nb201.csv');
  const lines = [`index,arch,${canonical ? 'unique,' : ''}cifar10_valid_12ep,cifar10_test_200ep,cifar10_train_seconds_200ep`];
  for (let code = 0; code < 15625; code++) {
    const ops: number[] = [];
    let c = code;
    for (let e = 0; e < 6; e++) {
      ops.push(c % 5);
      c = Math.floor(c / 5);
    }
    const valid = 40 + ops.reduce((a, o) => a + (VALUE[o] as number), 0) + (code % 7) * 0.01;
    const unique = canonical ? `${canonical(ops)},` : '';
    lines.push(`${code},${nb201String({ ops: ops.map((o) => NB201_OPS[o] as (typeof NB201_OPS)[number]) })},${unique}${valid.toFixed(3)},${(valid + 10).toFixed(3)},${seconds200}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The best valid accuracy of the synthetic table (all six edges conv3x3). */
export const SYNTHETIC_BEST_VALID = 40 + 6 * 6;
