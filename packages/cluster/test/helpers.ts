import { after, before } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Redis } from 'ioredis';
import { connectRedis, ExperimentStore, startRedisServer, type TestRedisServer } from '@nasrl/queue';

/** A redis-server of the test file's own on a free port, on the CPU backend; stopped after the file's tests. */
export interface RedisFixture {
  readonly redis: Redis;
  readonly store: ExperimentStore;
}

/** Registers before/after hooks that start and stop the server; read the fields inside tests only. */
export function redisFixture(): RedisFixture {
  let server: TestRedisServer | undefined;
  const fixture = {} as { redis: Redis; store: ExperimentStore };
  before(async () => {
    await tf.setBackend('cpu');
    server = await startRedisServer();
    fixture.redis = connectRedis(server.url);
    fixture.store = new ExperimentStore(fixture.redis);
  });
  after(async () => {
    fixture.redis?.disconnect();
    await server?.stop();
  });
  return fixture;
}
