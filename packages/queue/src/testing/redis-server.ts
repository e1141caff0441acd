import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

/** A redis-server started for a test. */
export interface TestRedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Kills the server and waits for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of startRedisServer. */
export interface StartRedisServerOptions {
  /** The binary. Default `redis-server` from PATH. */
  command?: string;
  /** How long to wait for PING to answer, in ms. Default 10000. */
  startTimeoutMs?: number;
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

/**
 * Starts a throwaway `redis-server` on a free loopback port, without persistence, and waits until PING
 * answers. Tests call `stop()` when done (kills the server). Retries with another port if the chosen one
 * was taken in the meantime.
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<TestRedisServer> {
  const command = options.command ?? 'redis-server';
  const timeout = options.startTimeoutMs ?? 10_000;
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(command, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'pipe'],
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
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          stop: () =>
            (stopping ??= (async () => {
              if (!exited) child.kill('SIGKILL');
              await exit;
            })()),
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGKILL');
    lastError ||= stderr.trim() || `no PING answer within ${timeout} ms`;
  }
  throw new Error(`could not start ${command}: ${lastError}`);
}
