import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

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
