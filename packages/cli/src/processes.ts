import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import * as path from 'node:path';
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
}

/** Starts `node <entry>` with `env` added to this process's environment; stdout lines are JSON log lines. */
export function startService(
  name: string,
  entry: string,
  env: Record<string, string>,
  logFile?: string,
  onLine?: (line: Record<string, unknown>) => void,
): ServiceProcess {
  const child = spawn(process.execPath, [path.join(repoRoot(), entry)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    exited,
    lastLines: () => [...lines],
    waitFor: (event, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} did not report "${event}" within ${timeoutMs} ms; its last output:\n${lines.slice(-10).join('\n')}`)), timeoutMs);
        void exited.then((code) => reject(new Error(`${name} exited with code ${code} before "${event}"; its last output:\n${lines.slice(-10).join('\n')}`)));
        waiters.push({ event, resolve: (v) => (clearTimeout(timer), resolve(v)) });
      }),
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
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
