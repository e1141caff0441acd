import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, test } from 'node:test';
import { ParameterServerClient, type NamedTensor } from '@nasrl/ps';
import { promtoolCheck } from '@nasrl/metrics';

const MAIN = path.resolve(__dirname, '../src/main.js');
const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Shard {
  child: ChildProcess;
  address: string;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a shard process on port 0 and resolves once it printed its listening line. */
async function startShard(env: Record<string, string>): Promise<Shard> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NASRL_PS_PORT: '0', NASRL_PS_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const address = await new Promise<string>((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      lines.push(record);
      if (record.event === 'listening') resolve(record.address as string);
    });
    void exited.then(({ code }) => reject(new Error(`shard exited with ${code} before listening: ${stderr}`)));
  });
  return { child, address, lines, exited };
}

/** GET of a path on host:port: the status and body. */
function httpGet(address: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(`http://${address}${urlPath}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-ps-proc-'));
  dirs.push(d);
  return d;
}

const params = (): NamedTensor[] => [
  { name: 'lstm/kernel', shape: [4, 8], data: Float32Array.from({ length: 32 }, (_, i) => i / 100) },
  { name: 'head/bias', shape: [4], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) },
];
const grads = (x: number): NamedTensor[] => params().map((p) => ({ ...p, data: new Float32Array(p.data.length).fill(x) }));

async function waitFor<T>(get: () => Promise<T>, ok: (x: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const x = await get();
    if (ok(x)) return x;
    if (Date.now() > end) throw new Error(`condition not met: ${JSON.stringify(x)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a shard killed with SIGKILL restarts from its checkpoint, skips a corrupt one, and keeps serving', async () => {
  const dir = tempDir();
  const env = { NASRL_PS_CHECKPOINT_DIR: dir, NASRL_PS_CHECKPOINT_EVERY_UPDATES: '1', NASRL_PS_CHECKPOINT_INTERVAL_MS: '0' };
  const first = await startShard(env);
  let client = new ParameterServerClient({ shards: [first.address] });
  await client.init('proc', params());
  for (let i = 0; i < 3; i++) await client.push('proc', `step-${i}`, 'r0', grads(0.5), [i]);
  const stats = await waitFor(() => client.stats('proc'), (s) => s[0]?.experiments[0]?.checkpointedVersion === 3);
  assert.equal(stats[0]?.experiments[0]?.version, 3);
  const beforeKill = await client.pull('proc');
  client.close();
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');

  // A newer, corrupt checkpoint (as a crash mid-copy or bit rot would leave) must be skipped.
  const corrupt = path.join(dir, 'shard-0000-999999999999.ckpt');
  fs.writeFileSync(corrupt, 'not a checkpoint');
  const second = await startShard(env);
  const skipped = second.lines.find((l) => l.event === 'checkpoint_corrupt');
  assert.equal(skipped?.file, corrupt);
  const restored = second.lines.find((l) => l.event === 'checkpoint_restored');
  assert.deepEqual(restored?.experiments, [{ experiment: 'proc', version: 3, pendingGradients: 0 }]);

  const metricsAddress = second.lines.find((l) => l.event === 'metrics_listening')?.address as string;
  assert.match(metricsAddress, /^127\.0\.0\.1:\d+$/);
  client = new ParameterServerClient({ shards: [second.address] });
  try {
    assert.deepEqual(await client.pull('proc'), beforeKill);
    const dup = await client.push('proc', 'step-2', 'r0', grads(0.5), [2]);
    assert.equal(dup[0]?.status, 'duplicate');
    const next = await client.push('proc', 'step-3', 'r0', grads(0.5), [3]);
    assert.deepEqual([next[0]?.status, next[0]?.version], ['applied', 4]);
    const scrape = await httpGet(metricsAddress, '/metrics');
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^# TYPE nasrl_ps_pushes_total counter$/m);
    // The counters survive the restart: they are kept in checkpoints.
    assert.match(scrape.body, /^nasrl_ps_pushes_total\{experiment="proc",outcome="applied"\} 4$/m);
    assert.match(scrape.body, /^nasrl_ps_pushes_total\{experiment="proc",outcome="duplicate"\} 1$/m);
    assert.match(scrape.body, /^nasrl_ps_parameter_version\{experiment="proc"\} 4$/m);
    assert.match(scrape.body, /^nasrl_ps_pulls_total\{experiment="proc"\} 1$/m);
    assert.match(scrape.body, /^nasrl_ps_push_staleness_count\{experiment="proc"\} 1$/m);
    assert.match(scrape.body, /^nasrl_build_info\{service="param-server"\} 1$/m);
    promtoolCheck(scrape.body);
    assert.equal((await httpGet(metricsAddress, '/readyz')).status, 200);
    assert.equal((await httpGet(metricsAddress, '/healthz')).body, 'ok\n');
    await waitFor(() => client.stats('proc'), (s) => s[0]?.experiments[0]?.checkpointedVersion === 4);
    // Numbering continues after the corrupt file, and the default keep (3) pruned the oldest.
    await waitFor(async () => fs.readdirSync(dir).sort(), (names) => names.length === 3);
    const names = fs.readdirSync(dir).sort();
    assert.deepEqual(names.slice(1), ['shard-0000-1000000000000.ckpt', 'shard-0000-999999999999.ckpt']);
    assert.match(names[0] ?? '', /^shard-0000-0{11}\d\.ckpt$/);
  } finally {
    client.close();
  }
  second.child.kill('SIGTERM');
  assert.deepEqual(await second.exited, { code: 0, signal: null });
  assert.ok(second.lines.some((l) => l.event === 'closed'));
});

test('SIGTERM writes a final checkpoint that the next start restores', async () => {
  const dir = tempDir();
  const env = { NASRL_PS_CHECKPOINT_DIR: dir, NASRL_PS_CHECKPOINT_EVERY_UPDATES: '0', NASRL_PS_CHECKPOINT_INTERVAL_MS: '0', NASRL_PS_ACCUMULATE: '2' };
  const first = await startShard(env);
  const client = new ParameterServerClient({ shards: [first.address] });
  await client.init('term', params());
  const r = await client.push('term', 'a', 'r0', grads(1), [0]);
  assert.equal(r[0]?.status, 'accumulated');
  client.close();
  assert.equal(fs.readdirSync(dir).length, 0);
  first.child.kill('SIGTERM');
  assert.deepEqual(await first.exited, { code: 0, signal: null });
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.ckpt')).length, 1);
  const second = await startShard(env);
  const c2 = new ParameterServerClient({ shards: [second.address] });
  try {
    // The pending gradient survived: the next one completes the mean.
    const next = await c2.push('term', 'b', 'r0', grads(1), [0]);
    assert.deepEqual([next[0]?.status, next[0]?.version], ['applied', 1]);
  } finally {
    c2.close();
    second.child.kill('SIGINT');
    assert.equal((await second.exited).code, 0);
  }
});

test('bad configuration exits with code 2 and a message naming the key', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ NASRL_PS_PORT: 'eighty' }, /NASRL_PS_PORT must be an integer/],
    [{ NASRL_PS_LERNING_RATE: '0.1' }, /unknown variable NASRL_PS_LERNING_RATE/],
    [{ NASRL_PS_TLS_CERT_FILE: '/nonexistent/crt', NASRL_PS_TLS_KEY_FILE: '/nonexistent/key' }, /cannot read the server key file \/nonexistent\/key|cannot read the server certificate file/],
  ];
  for (const [env, message] of cases) {
    const r = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, /^param-server: configuration error: /);
    assert.match(r.stderr, message);
  }
});
