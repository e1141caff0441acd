import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

/** The repository root (services are started from their compiled entry points there). */
export function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..', '..');
}

/** A service process started by startService, with its last log lines kept for error reports. */
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
