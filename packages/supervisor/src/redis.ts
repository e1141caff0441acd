import { spawnSync } from 'node:child_process';

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
