import assert from 'node:assert/strict';
import type { CliRun } from '../src/testing';

/** The JSON a `--json` command prints as its last line, after checking that it exited 0. */
export function lastJson<T>(run: CliRun): T {
  assert.equal(run.code, 0, run.output);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as T;
}
