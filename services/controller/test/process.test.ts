import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, test } from 'node:test';
import { connectRedis, startRedisServer, type TestRedisServer } from '@nasrl/queue';
import { ParameterServerServer, ShardCore } from '@nasrl/ps';

const MAIN = path.resolve(__dirname, '../src/main.js');
let redis: TestRedisServer;
let shard: ParameterServerServer;

before(async () => {
  redis = await startRedisServer();
  shard = await ParameterServerServer.start({ shard: new ShardCore({ shardIndex: 0, shardCount: 1 }), address: '127.0.0.1:0', shutdownGraceMs: 200 });
});
after(async () => {
  await shard.close();
  await redis.stop();
});

// SIGTERM `delayMs` after the controller says it started: 0 catches the replica offering θ, reserving or
// sampling (a stop then must not fail the call it is in), 1,000 waiting for its enqueued step.
for (const [when, delayMs] of [['mid-step', 1_000], ['at start-up', 0]] as const) {
  test(`SIGTERM ${when}: the controller closes every connection, exits 0 by itself and does not claim the budget spent`, async () => {
    const experiment = { id: `term-${delayMs}-${process.pid}`, space: 'nb201', tablePath: '/unused.csv', budgetArchs: 100, childrenPerStep: 4 };
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: redis.url,
        NASRL_CONTROLLER_EXPERIMENT: experiment.id,
        NASRL_CONTROLLER_EXPERIMENT_CONFIG: JSON.stringify(experiment),
        NASRL_CONTROLLER_PS_SHARDS: shard.address,
        NASRL_CONTROLLER_METRICS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // No worker runs: the replica enqueues its first step and waits for it.
    const enqueued = new Promise<void>((resolve) => {
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        events.push(JSON.parse(line) as Record<string, unknown>);
        if ((events.at(-1) as { event: string }).event === 'started') setTimeout(resolve, delayMs);
      });
    });
    await Promise.race([enqueued, exited.then(() => assert.fail(`the controller exited early: ${stderr}`))]);
    const probe = connectRedis(redis.url);
    try {
      const named = async (): Promise<number> => ((await probe.client('LIST')) as string).split('\n').filter((l) => l.includes('name=nasrl-controller-0')).length;
      if (delayMs > 0) assert.ok((await named()) >= 3, 'the replica, its step worker and its events each hold a connection');
      child.kill('SIGTERM');
      // Exit 0 without process.exit forcing it: every connection, server and timer was closed.
      assert.deepEqual(await exited, { code: 0, signal: null });
      const names = events.map((e) => e.event);
      assert.ok(names.includes('closed'), names.join(' '));
      assert.ok(!names.includes('exit_forced'), 'nothing was left open');
      assert.ok(!names.includes('budget-spent'), 'a stopped replica has not spent the budget');
      assert.equal(stderr, '');
    } finally {
      probe.disconnect();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
}
