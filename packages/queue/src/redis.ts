import { Redis, type RedisOptions } from 'ioredis';
import { InvalidConfigError } from './errors';

/**
 * ioredis options from a Redis URL: `redis://[user:password@]host[:port][/db]`, or `rediss://...` for TLS
 * (the server name is checked against the host). Credentials and TLS come only from the URL.
 */
export function redisOptionsFromUrl(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidConfigError('REDIS_URL', `not a URL: ${JSON.stringify(url)} (expected redis://host:port or rediss://host:port)`, 'redis');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new InvalidConfigError('REDIS_URL', `scheme must be redis: or rediss:, got ${u.protocol}`, 'redis');
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new InvalidConfigError('REDIS_URL', `database must be a number, got "${dbText}"`, 'redis');
  const options: RedisOptions = { host, port, db: dbText === '' ? 0 : Number(dbText) };
  if (u.username !== '') options.username = decodeURIComponent(u.username);
  if (u.password !== '') options.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') options.tls = { servername: host };
  return options;
}

/** Options of connectRedis. */
export interface ConnectOptions {
  /** CLIENT SETNAME, shown by CLIENT LIST (e.g. the worker id). */
  name?: string;
}

/**
 * A connection suitable for BullMQ workers, queues and the ExperimentStore: commands wait for a reconnect
 * instead of failing after a few retries (BullMQ requires maxRetriesPerRequest: null for blocking calls).
 */
export function connectRedis(url: string, options: ConnectOptions = {}): Redis {
  return new Redis({
    ...redisOptionsFromUrl(url),
    maxRetriesPerRequest: null,
    ...(options.name !== undefined ? { connectionName: options.name } : {}),
  });
}
