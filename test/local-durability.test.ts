import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startNasrl, type NasrlProcess } from '@nasrl/cli';
import { connectRedis, ExperimentStore, startRedisServer } from '@nasrl/queue';
import { repoRoot } from '@nasrl/supervisor';
import { processesOfRun, readResultLines, waitUntil } from './helpers';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');
// REDIS_URL unset: nasrl local starts a redis-server of its own, with its data in <out>/redis.
const ENV = { REDIS_URL: '' };

/** A small NAS-Bench-201 run whose children take about 0.3 s each, so that workers are busy whenever the launcher is killed. */
function localArgs(out: string, id: string, budget: number): string[] {
  return ['local', '--space', 'nb201', '--table', TABLE, '--time-scale', '0.003', '--budget-archs', String(budget), '--children', '4', '--workers', '2', '--replicas', '2', '--shards', '2', '--out', out, '--id', id];
}

/** The results a run's Redis data holds: a redis-server started on <out>/redis for the reading. */
async function storedResults(out: string, id: string): Promise<string[]> {
  const redis = await startRedisServer({ dataDir: path.join(out, 'redis') });
  const connection = connectRedis(redis.url);
  try {
    return (await new ExperimentStore(connection).results(id)).map((r) => r.childId);
  } finally {
    connection.disconnect();
    await redis.stop();
  }
}

/** Waits until results.jsonl has `n` lines while the run goes on; fails with the run's output otherwise. */
async function waitForLines(run: NasrlProcess, out: string, n: number, timeoutMs: number): Promise<void> {
  await waitUntil(() => readResultLines(path.join(out, 'results.jsonl')).length >= n, timeoutMs, () => `results.jsonl has fewer than ${n} lines after ${timeoutMs} ms; output:\n${run.output()}`);
}

/** Waits until no process of the run is alive (the guard included). */
async function waitForNoProcess(out: string, timeoutMs: number): Promise<void> {
  await waitUntil(() => processesOfRun(out).length === 0, timeoutMs, () => `processes of the run still alive after ${timeoutMs} ms:\n${processesOfRun(out).map((p) => `${p.pid} ${p.command}`).join('\n')}`);
}

function ids(lines: readonly Record<string, unknown>[]): string[] {
  return lines.map((l) => String(l.id));
}

test('redis-server with an append-only file keeps every acknowledged write across a SIGKILL', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nasrl-aof-'));
  try {
    const first = await startRedisServer({ dataDir: dir });
    const a = connectRedis(first.url);
    for (let i = 0; i < 500; i++) await a.rpush('acknowledged', String(i));
    process.kill(first.pid, 'SIGKILL');
    a.disconnect();
    await first.stop();
    const second = await startRedisServer({ dataDir: dir });
    const b = connectRedis(second.url);
    try {
      assert.equal(await b.llen('acknowledged'), 500);
    } finally {
      b.disconnect();
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a launcher killed with SIGKILL leaves every stored result in results.jsonl and no process behind; --resume finishes exactly the budget', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(TABLE), `the NAS-Bench-201 table is expected at ${TABLE}`);
  const out = mkdtempSync(path.join(tmpdir(), 'nasrl-kill-'));
  const id = 'kill-resume';
  const budget = 32;
  try {
    const run = startNasrl(localArgs(out, id, budget), ENV);
    await waitForLines(run, out, 6, 50_000);
    run.child.kill('SIGKILL');
    await run.exited;

    // Within seconds the services, the guard and redis-server are gone, and results.jsonl holds every result
    // the store holds: nothing can be recorded any more, and nothing recorded is missing.
    await waitForNoProcess(out, 15_000);
    const written = readResultLines(path.join(out, 'results.jsonl'));
    const stored = await storedResults(out, id);
    assert.ok(stored.length < budget, `the launcher was killed mid-run (${stored.length} of ${budget} stored)`);
    assert.deepEqual([...ids(written)].sort(), [...stored].sort(), 'results.jsonl holds exactly the stored results');
    const best = JSON.parse(readFileSync(path.join(out, 'best.json'), 'utf8')) as { evaluations: number; best: { reward: number } };
    assert.equal(best.evaluations, stored.length);
    assert.equal(best.best.reward, Math.max(...written.map((l) => l.reward as number)));
    const report = readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.doesNotMatch(report, /http-equiv="refresh"/, 'the report of a stopped run does not reload itself');
    assert.match(report, /--resume/);

    // Lose the last lines of results.jsonl (and cut one in half), as an older launcher killed between the
    // store and the file would leave it: --resume writes them again, once.
    const kept = written.slice(0, Math.max(1, written.length - 3));
    writeFileSync(path.join(out, 'results.jsonl'), kept.map((l) => `${JSON.stringify(l)}\n`).join('') + JSON.stringify(written[written.length - 1]).slice(0, 20));

    const resumed = startNasrl(['local', '--resume', out], ENV);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([resumed.exited, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`--resume still running after 60 s:\n${resumed.output()}`)), 60_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, resumed.output());
    assert.match(resumed.output(), new RegExp(`resuming ${id}: ${stored.length} of ${budget} evaluated; ${written.length - kept.length} result\\(s\\) the last launcher had not written added`));
    const final = readResultLines(path.join(out, 'results.jsonl'));
    assert.equal(final.length, budget, 'exactly the budget in results.jsonl');
    assert.equal(new Set(ids(final)).size, budget, 'every architecture once');
    assert.deepEqual([...ids(final)].sort(), [...(await storedResults(out, id))].sort(), 'the store agrees');
    assert.match(resumed.output(), new RegExp(`${budget} of ${budget} architectures evaluated`));
    assert.match(resumed.output(), /best validation accuracy \d+\.\d+%/);
    assert.match(resumed.output(), /report: .*report\.html/);
    assert.doesNotMatch(resumed.output(), /train-arch/, 'no retrain command outside the conv space');
    await waitForNoProcess(out, 10_000);
  } finally {
    for (const p of processesOfRun(out)) process.kill(p.pid, 'SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
});

test('Ctrl-C stops the services before Redis without stack traces, and --resume continues the run', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'nasrl-ctrlc-'));
  const id = 'ctrl-c';
  const budget = 24;
  try {
    const run = startNasrl(localArgs(out, id, budget), ENV);
    await waitForLines(run, out, 4, 50_000);
    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground process group.
    process.kill(-(run.child.pid as number), 'SIGINT');
    assert.equal(await run.exited, 130, run.output());
    const output = run.output();
    assert.doesNotMatch(output, /Unhandled error event|ECONNREFUSED|^\s+at /m, 'no errors or stack traces after Ctrl-C');
    assert.match(output, /stopping: services first, then Redis/);
    assert.match(output, /continue this run: .*local --resume /);
    await waitForNoProcess(out, 5_000);
    const written = readResultLines(path.join(out, 'results.jsonl'));
    assert.ok(written.length < budget, `interrupted mid-run (${written.length} of ${budget})`);
    assert.deepEqual([...ids(written)].sort(), [...(await storedResults(out, id))].sort(), 'results.jsonl holds exactly the stored results');

    const resumed = startNasrl(['local', '--resume', out], ENV);
    assert.equal(await resumed.exited, 0, resumed.output());
    const final = readResultLines(path.join(out, 'results.jsonl'));
    assert.equal(final.length, budget);
    assert.equal(new Set(ids(final)).size, budget);
    assert.deepEqual(ids(final).slice(0, written.length), ids(written), 'results.jsonl only grew');
  } finally {
    for (const p of processesOfRun(out)) process.kill(p.pid, 'SIGKILL');
    rmSync(out, { recursive: true, force: true });
  }
});
