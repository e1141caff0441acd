import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import * as path from 'node:path';

/** A redis-server started by startRedisServer. */
export interface TestRedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** The server's process id. */
  readonly pid: number;
  /**
   * Stops the server and waits for it to exit; safe to call twice. A throwaway server is killed; one with a
   * `dataDir` gets SIGTERM, on which redis-server flushes its append-only file and exits (SIGKILL after 10 s).
   */
  stop(): Promise<void>;
}

/** Options of startRedisServer. */
export interface StartRedisServerOptions {
  /** The binary. Default `redis-server` from PATH. */
  command?: string;
  /** How long to wait for PING to answer, in ms. Default 10000. */
  startTimeoutMs?: number;
  /**
   * Keep the data in this folder (created if missing) in an append-only file, loaded again by the next server
   * started on it; the server's pid is in `redis.pid` there while it runs. Default: no persistence.
   */
  dataDir?: string;
  /**
   * When the append-only file is fsynced: 'everysec' (default) or 'always'. Either way redis-server writes
   * every change to the file before it answers the command, so a killed server (even with SIGKILL) loses
   * nothing it acknowledged; 'always' also survives a crash of the machine, at the cost of an fsync per write.
   */
  appendFsync?: 'everysec' | 'always';
  /**
   * Start the server in a session of its own, so that the terminal's Ctrl-C reaches only the process that
   * started it, which then stops it in its own time. Default false.
   */
  detached?: boolean;
  /** The server's environment. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /**
   * Listen on this port (a restart on the address of a server that was killed). Default: a free port, and
   * another one if it was taken meanwhile.
   */
  port?: number;
}

/** A free TCP port on 127.0.0.1: bind port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/** The end of a persistent server's log file (where it writes why it did not start), or ''. */
function logTail(options: StartRedisServerOptions): string {
  if (options.dataDir === undefined) return '';
  try {
    return readFileSync(path.join(options.dataDir, 'redis.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

/** redis-server arguments of a server on `port`, persistent in `dataDir` when it is given. */
function serverArgs(port: number, options: StartRedisServerOptions): string[] {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--loglevel', 'warning'];
  if (options.dataDir === undefined) return [...args, '--appendonly', 'no'];
  const dir = path.resolve(options.dataDir);
  return [
    ...args, '--dir', dir, '--appendonly', 'yes', '--appendfsync', options.appendFsync ?? 'everysec',
    '--pidfile', path.join(dir, 'redis.pid'), '--logfile', path.join(dir, 'redis.log'),
  ];
}

/**
 * Starts a `redis-server` on a free loopback port and waits until PING answers: a throwaway one without
 * persistence (tests call `stop()` when done), or one that keeps its data in `dataDir`. Retries with another
 * port if the chosen one was taken in the meantime.
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<TestRedisServer> {
  const command = options.command ?? 'redis-server';
  // Loading a large append-only file takes a while; PING answers LOADING until it is done.
  const timeout = options.startTimeoutMs ?? (options.dataDir === undefined ? 10_000 : 120_000);
  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
  let lastError = '';
  for (let attempt = 0; attempt < (options.port === undefined ? 3 : 1); attempt++) {
    const port = options.port ?? (await freePort());
    const child: ChildProcess = spawn(command, serverArgs(port, options), {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: options.detached ?? false,
      env: options.env ?? process.env,
    });
    let exited = false;
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    child.once('error', (err) => ((lastError = err.message), (exited = true)));
    const deadline = Date.now() + timeout;
    while (!exited && Date.now() < deadline) {
      if (await ping(port)) {
        let stopping: Promise<void> | null = null;
        // A detached server must not keep the process that started it alive.
        if (options.detached) {
          child.unref();
          (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
        }
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          pid: child.pid as number,
          stop: () =>
            (stopping ??= (async () => {
              if (exited) return;
              if (options.dataDir === undefined) {
                child.kill('SIGKILL');
              } else {
                child.kill('SIGTERM');
                const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
                await exit;
                clearTimeout(timer);
              }
              await exit;
            })()),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGKILL');
    lastError ||= stderr.trim() || logTail(options) || `no PING answer within ${timeout} ms`;
  }
  throw new Error(`could not start ${command}: ${lastError}`);
}
