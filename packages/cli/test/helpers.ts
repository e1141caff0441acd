import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@nasrl/supervisor';

/** What a `nasrl` run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

/** The JSON a `--json` command prints as its last line, after checking that it exited 0. */
export function lastJson<T>(run: CliRun): T {
  assert.equal(run.code, 0, run.output);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as T;
}

/** Runs the `nasrl` command with extra environment variables; killed with SIGKILL after `timeoutMs`. */
export function runNasrl(args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], { cwd: repoRoot(), env: { ...process.env, ...env } });
    const run: CliRun = { code: null, stdout: '', stderr: '', output: '' };
    child.stdout.on('data', (d) => {
      run.stdout += String(d);
      run.output += String(d);
    });
    child.stderr.on('data', (d) => {
      run.stderr += String(d);
      run.output += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    });
  });
}

/** A `nasrl` process started in the background: its own process group, as a terminal's foreground job. */
export interface NasrlProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Starts `nasrl` in a process group of its own (Ctrl-C is `process.kill(-child.pid, 'SIGINT')`). */
export function startNasrl(args: readonly string[], env: Record<string, string>): NasrlProcess {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), ...args], {
    cwd: repoRoot(), env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += String(d)));
  child.stderr?.on('data', (d) => (output += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * Live processes (zombies left out) of the local run in `out`: those whose environment names the folder
 * (NASRL_LOCAL_RUN_DIR), and the redis-server of its redis/redis.pid (which overwrites its environment with
 * its process title).
 */
export function processesOfRun(out: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  let redisPid = '';
  try {
    redisPid = readFileSync(path.join(out, 'redis', 'redis.pid'), 'utf8').trim();
  } catch {
    // No redis-server running, or none started.
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      const redis = entry === redisPid && readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('redis-server');
      if (!redis && !environ.includes(`NASRL_LOCAL_RUN_DIR=${out}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      found.push({ pid: Number(entry), command: readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ').slice(0, 120) });
    } catch {
      // Gone meanwhile, or not readable.
    }
  }
  return found;
}

/** Polls `condition` every 100 ms until it holds; throws `message()` after `timeoutMs`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The lines of a results.jsonl (none when it is missing). */
export function readResultLines(file: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // Whole lines only: text after the last newline is a line still being written.
  return text.split('\n').slice(0, -1).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}
