import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { signalAll, waitForExit } from './pids';

/** The guard process of a local run, told what to look after. */
export interface Guard {
  readonly pid: number;
  /** Sends one message (a JSON line) to the guard. */
  tell(message: Record<string, unknown>): void;
  /** Tells the guard that the launcher finished its work itself; the guard exits without doing anything. */
  release(): void;
}

/**
 * Starts a guard: `node -e "require(module)[exportName]()"` in a session of its own, reading JSON lines from
 * its stdin, which is a pipe from this process. The pipe closes when this process ends in any way, SIGKILL
 * included, so the guard learns of it at once and can finish what this process left undone. Its output goes
 * to `logFile`.
 */
export function startGuard(module: string, exportName: string, logFile: string, env: Record<string, string> = {}): Guard {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(module)})[${JSON.stringify(exportName)}]()`], {
    env: { ...process.env, ...env },
    stdio: ['pipe', log, log],
    detached: true,
  });
  closeSync(log);
  child.unref();
  const stdin = child.stdin as Socket;
  stdin.on('error', () => undefined);
  // The pipe must not keep this process alive; it closes with it.
  stdin.unref();
  let released = false;
  return {
    pid: child.pid as number,
    tell: (message) => {
      if (!released) stdin.write(`${JSON.stringify(message)}\n`);
    },
    release: () => {
      if (released) return;
      stdin.write(`${JSON.stringify({ release: true })}\n`);
      released = true;
      stdin.end();
    },
  };
}

/** What a guard was told about the run it looks after. */
export interface GuardedRun {
  /** Service processes by stage: those of stage 0 are stopped first, then those of stage 1, and so on. */
  readonly stages: readonly (readonly number[])[];
  /** The run's own redis-server, stopped last (SIGTERM: it flushes its append-only file). */
  readonly redisPid: number | null;
  /** The last `run` message, whatever the launcher put in it; null if none came. */
  readonly run: Record<string, unknown> | null;
}

/**
 * The body of a guard process (see startGuard). Reads messages until its stdin closes: `{pid, stage}` (a
 * service to stop), `{redisPid}`, `{run: {...}}`, and `{release: true}` (the launcher finished itself: exit
 * and do nothing). When the launcher is gone without a release, the guard stops the services stage by stage
 * (SIGTERM; SIGKILL after `graceMs`), runs `finish` (which may still use the run's Redis), stops redis-server
 * and exits.
 */
export async function runGuard(finish: (run: GuardedRun, log: (event: string, fields?: Record<string, unknown>) => void) => Promise<void>, graceMs = 20_000): Promise<void> {
  const log = (event: string, fields: Record<string, unknown> = {}): void => {
    process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), service: 'guard', event, ...fields })}\n`);
  };
  const stages: number[][] = [];
  let redisPid: number | null = null;
  let run: Record<string, unknown> | null = null;
  let released = false;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof m.pid === 'number') {
      const stage = typeof m.stage === 'number' && Number.isInteger(m.stage) && m.stage >= 0 && m.stage < 8 ? m.stage : 0;
      while (stages.length <= stage) stages.push([]);
      (stages[stage] as number[]).push(m.pid);
    }
    if (typeof m.redisPid === 'number') redisPid = m.redisPid;
    if (typeof m.run === 'object' && m.run !== null) run = m.run as Record<string, unknown>;
    if (m.release === true) released = true;
  });
  await new Promise((resolve) => lines.once('close', resolve));
  if (released) process.exit(0);
  log('launcher_gone', { services: stages, redisPid });
  for (const pids of stages) {
    signalAll(pids, 'SIGTERM');
    let left = await waitForExit(pids, graceMs);
    if (left.length > 0) {
      log('killing', { pids: left });
      signalAll(left, 'SIGKILL');
      left = await waitForExit(left, 5_000);
    }
    log('services_stopped', { pids, left });
  }
  try {
    await finish({ stages, redisPid, run }, log);
  } catch (err) {
    log('finish_failed', { level: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  if (redisPid !== null) {
    signalAll([redisPid], 'SIGTERM');
    if ((await waitForExit([redisPid], 15_000)).length > 0) signalAll([redisPid], 'SIGKILL');
    log('redis_stopped', { pid: redisPid });
  }
  log('done');
  process.exit(0);
}
