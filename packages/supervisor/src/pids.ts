import { readFileSync, rmSync, writeFileSync } from 'node:fs';

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
