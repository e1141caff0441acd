import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';

/** The repository root (the CLI runs the services' compiled entry points from their folders). */
export function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..', '..');
}

/** A service process started by `nasrl local`, with its last log lines kept for error reports. */
export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Resolves with the first JSON log line whose `event` is `event`. */
  waitFor(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
  lastLines(): string[];
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now, and wait for the exit. */
  kill(): Promise<void>;
  /** Whether the process has exited. */
  hasExited(): boolean;
}

/** Options of startService. */
export interface StartServiceOptions {
  /**
   * Run the service in a session of its own, so that the terminal's Ctrl-C reaches only the launcher, which
   * then stops the services in order. Default false.
   */
  readonly detached?: boolean;
  /**
   * The service stops (SIGTERM to itself, exit after 15 s at the latest) once the process that started it is
   * gone, even when that one was killed with SIGKILL. Default true.
   */
  readonly exitWithParent?: boolean;
}

/**
 * Loaded before a service's entry point (`node --import`): when the process's parent is gone (the launcher
 * died and the service was handed to init), the service stops itself as on SIGTERM, and exits after 15 s at
 * the latest, unless the guard named by NASRL_LOCAL_GUARD_PID is alive: the guard then stops the services
 * itself, in order (controllers and workers before the shards that their last steps still push to). Writes
 * to the launcher's closed pipes are ignored instead of crashing the service before its graceful close.
 * Processes that a service forks (BullMQ sandboxes) inherit this and stop with their own parent.
 */
const EXIT_WITH_PARENT = `
import { readFileSync } from 'node:fs';
const parent = process.ppid;
const guard = Number(process.env.NASRL_LOCAL_GUARD_PID || 0);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    return err.code === 'ENOENT' || err.code === 'EPERM';
  }
};
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const timer = setInterval(() => {
  if (process.ppid === parent || (guard > 0 && alive(guard))) return;
  clearInterval(timer);
  setTimeout(() => process.exit(1), 15000).unref();
  process.kill(process.pid, 'SIGTERM');
}, 250);
timer.unref();
`;

/** Node arguments that load EXIT_WITH_PARENT before the entry point. */
export function exitWithParentArgs(): string[] {
  return ['--import', `data:text/javascript,${encodeURIComponent(EXIT_WITH_PARENT)}`];
}

/** Starts `node <entry>` with `env` added to this process's environment; stdout lines are JSON log lines. */
export function startService(
  name: string,
  entry: string,
  env: Record<string, string>,
  logFile?: string,
  onLine?: (line: Record<string, unknown>) => void,
  options: StartServiceOptions = {},
): ServiceProcess {
  const nodeArgs = options.exitWithParent === false ? [] : exitWithParentArgs();
  const child = spawn(process.execPath, [...nodeArgs, path.join(repoRoot(), entry)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  if (logFile) {
    mkdirSync(path.dirname(logFile), { recursive: true });
    const log = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
  }
  const lines: string[] = [];
  const waiters: { event: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > 50) lines.shift();
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    keep(line);
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    onLine?.(parsed);
    for (const w of [...waiters]) {
      if (parsed.event === w.event) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', keep);
  let done = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => ((done = true), resolve(code))));
  return {
    name,
    child,
    exited,
    lastLines: () => [...lines],
    hasExited: () => done,
    waitFor: (event, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not report "${event}" within ${timeoutMs} ms; its last output:\n${lines.slice(-10).join('\n')}`)), timeoutMs);
        void exited.then((code) => (clearTimeout(timer), reject(new Error(`${name} exited with code ${code} before "${event}"; its last output:\n${lines.slice(-10).join('\n')}`))));
        waiters.push({ event, resolve: (v) => (clearTimeout(timer), resolve(v)) });
      }),
    stop: async (graceMs = 10_000) => {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill: async () => {
      if (done) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Waits until every one of `services` has reported `event`; resolves with their lines, in order. The group
 * has no deadline (hundreds of processes starting on a few cores take as long as they take): it fails when
 * none of those still starting reported `event` for `stallMs`, or when one exits first.
 */
export function waitForAll(services: readonly ServiceProcess[], event: string, stallMs: number): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = new Array<Record<string, unknown>>(services.length);
  if (services.length === 0) return Promise.resolve(lines);
  let pending = services.length;
  let last = Date.now();
  return new Promise((resolve, reject) => {
    const stalled = setInterval(() => {
      if (Date.now() - last < stallMs) return;
      clearInterval(stalled);
      const waiting = services.filter((_, i) => lines[i] === undefined);
      const first = waiting[0] as ServiceProcess;
      reject(new Error(`${waiting.length} of ${services.length} processes did not report "${event}" and none did for ${stallMs} ms (${waiting.slice(0, 5).map((s) => s.name).join(', ')}${waiting.length > 5 ? ', ...' : ''}); the last output of ${first.name}:\n${first.lastLines().slice(-10).join('\n')}`));
    }, Math.min(1_000, stallMs));
    services.forEach((s, i) => {
      s.waitFor(event, 2 ** 31 - 1).then((line) => {
        lines[i] = line;
        last = Date.now();
        if (--pending === 0) {
          clearInterval(stalled);
          resolve(lines);
        }
      }, (err: unknown) => {
        clearInterval(stalled);
        reject(err);
      });
    });
  });
}

/**
 * Whether process `pid` is running: it exists and, where /proc tells, is not a zombie (a dead child whose
 * parent has not collected it yet).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Waits until none of `pids` is alive, or `timeoutMs` passed; returns those still alive. */
export async function waitForExit(pids: Iterable<number>, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = [...pids].filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    alive = alive.filter(isAlive);
  }
  return alive;
}

/** Sends `signal` to each of `pids` that is alive, ignoring those already gone. */
export function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/** The pid in `file` when that process is alive (and its command line contains `command`, where /proc tells), else null. */
export function livePid(file: string, command?: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || !isAlive(pid)) return null;
  if (command !== undefined) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(command)) return null;
    } catch {
      // No /proc: trust the pid.
    }
  }
  return pid;
}

/** Writes this process's pid into `file`; the returned function removes it. */
export function writePidFile(file: string, pid = process.pid): () => void {
  writeFileSync(file, `${pid}\n`);
  return () => rmSync(file, { force: true });
}

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

/**
 * Makes sure `redis-server` is on PATH: installs Debian's package with apt-get when running as root where
 * apt-get exists; otherwise throws with the one-line instruction.
 */
export function ensureRedisServer(): void {
  if (spawnSync('redis-server', ['--version']).status === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && spawnSync('apt-get', ['--version']).status === 0) {
    process.stderr.write('nasrl: redis-server is missing; installing it with apt-get...\n');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env });
    if (r.status === 0 && spawnSync('redis-server', ['--version']).status === 0) return;
  }
  throw new Error('redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server) or set REDIS_URL to a running Redis');
}
