/**
 * Benchmark (not a test): latency of a shard's Pull and Push through ParameterServerClient against a bare
 * gRPC unary call carrying the same bytes (a trivial echo service), for the paper's controller (2-layer LSTM,
 * 35 units: ~25k floats) and a larger one (2-layer LSTM, 256 units: ~1.1M floats).
 *
 *   node services/param-server/dist/src/bench.js [--json] [--repeats N] [--gap-ms MS]
 *
 * Back to back (the default) measures a shard kept busy: a push's Adam step, run just after its reply,
 * still delays the next call. `--gap-ms 2` leaves the shard idle between calls, as controllers that push once
 * per step do, and so measures the latency one call sees.
 * The servers (one shard, one protobuf echo, one raw-bytes echo) run in a child process so that client and
 * server do not share an event loop. Calls are sequential; the parameter-server and echo calls are
 * interleaved in small batches so that load from other processes on the machine hits both alike. Prints
 * p50/p99 in ms and the ratio shard/echo (goal: p50 ratio <= 1.5); `--json` adds one JSON line at the end.
 * First it times the shard's Adam step alone for each parameter set: the float64 JavaScript reference
 * (`adamStep`) against the SIMD kernel that shards run (`SliceArena.adam`), median of 9 batches.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { adamStep, compileAdamOptions, findProtoDir, ParameterServerClient, ParameterServerServer, ShardCore, SliceArena, type NamedTensor } from '@nasrl/ps';

interface Addresses {
  ps: string;
  echo: string;
  raw: string;
}

interface EchoRequest {
  payload: Uint8Array;
  replyBytes: number;
}

interface EchoResponse {
  payload: Uint8Array;
}

const ECHO_SERVICE = 'nasrl.bench.v1.Echo';
const RAW_PATH = '/nasrl.bench.v1.RawEcho/Echo';
const MAX_BYTES = 64 * 1024 * 1024;

function echoMethod(): grpc.MethodDefinition<EchoRequest, EchoResponse> {
  const def = protoLoader.loadSync('nasrl/bench/v1/echo.proto', { keepCase: false, longs: Number, defaults: true, includeDirs: [findProtoDir()] });
  return (def[ECHO_SERVICE] as unknown as { Echo: grpc.MethodDefinition<EchoRequest, EchoResponse> }).Echo;
}

const identity = (b: Buffer): Buffer => b;
const rawMethod: grpc.MethodDefinition<Buffer, Buffer> = {
  path: RAW_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};

/** Parameter set of a 2-layer LSTM controller with `hidden` units and the conv space's heads. */
function controllerParams(hidden: number): NamedTensor[] {
  const t = (name: string, shape: number[]): NamedTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { name, shape, data: Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 6250 - 0.08) };
  };
  const out: NamedTensor[] = [];
  for (const l of [0, 1]) out.push(t(`lstm/${l}/kernel`, [2 * hidden, 4 * hidden]), t(`lstm/${l}/bias`, [4 * hidden]));
  for (const tok of ['filter_height', 'filter_width', 'filters', 'stride_height', 'stride_width']) {
    out.push(t(`embed/${tok}`, [4, hidden]), t(`head/${tok}/kernel`, [hidden, 4]), t(`head/${tok}/bias`, [4]));
  }
  out.push(t('anchor/w_prev', [hidden, hidden]), t('anchor/w_curr', [hidden, hidden]), t('anchor/v', [hidden]), t('go', [1, hidden]));
  return out;
}

async function serve(): Promise<void> {
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  const ps = await ParameterServerServer.start({ shard, address: '127.0.0.1:0', maxMessageBytes: MAX_BYTES });
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_BYTES, 'grpc.max_send_message_length': MAX_BYTES });
  const replies = new Map<number, Buffer>();
  const reply = (n: number): Buffer => replies.get(n) ?? (replies.set(n, Buffer.alloc(n)).get(n) as Buffer);
  const echo: grpc.handleUnaryCall<EchoRequest, EchoResponse> = (call, cb) => cb(null, { payload: reply(call.request.replyBytes) });
  const raw: grpc.handleUnaryCall<Buffer, Buffer> = (call, cb) => cb(null, reply(call.request.readUInt32LE(0)));
  server.addService({ Echo: echoMethod() } as grpc.ServiceDefinition, { Echo: echo });
  server.addService({ Echo: rawMethod } as grpc.ServiceDefinition, { Echo: raw });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const addresses: Addresses = { ps: ps.address, echo: `127.0.0.1:${port}`, raw: `127.0.0.1:${port}` };
  process.send?.(addresses);
  process.on('disconnect', () => process.exit(0));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

interface Stat {
  p50: number;
  p99: number;
  n: number;
}

function summarise(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), n: s.length };
}

async function timeIt(f: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Runs the contenders in interleaved batches; returns per-contender timings in ms. */
async function interleaved(
  contenders: Record<string, () => Promise<unknown>>,
  repeats: number,
  gapMs: number,
  batch = 20,
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const k of Object.keys(contenders)) out[k] = [];
  for (let done = 0; done < repeats; done += batch) {
    for (const [k, f] of Object.entries(contenders)) {
      for (let i = 0; i < Math.min(batch, repeats - done); i++) {
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        (out[k] as number[]).push(await timeIt(f));
      }
    }
  }
  return out;
}

/** Median µs per Adam step over the whole parameter set: JavaScript reference vs the shard's SIMD kernel. */
function adamKernels(params: readonly NamedTensor[]): { jsUs: number; wasmUs: number } {
  const o = compileAdamOptions();
  const arena = SliceArena.allocate(params.map((t) => t.data.length));
  const state = params.map((t, i) => {
    const a = arena.tensors[i] as (typeof arena.tensors)[number];
    a.params.set(t.data);
    a.grad.fill(1e-3);
    return { p: Float32Array.from(t.data), m: new Float32Array(t.data.length), v: new Float32Array(t.data.length), g: a.grad.slice() };
  });
  const floats = params.reduce((n, t) => n + t.data.length, 0);
  const reps = Math.max(5, Math.round(5e7 / floats));
  let t = 0;
  const median = (f: () => void): number => {
    const batches: number[] = [];
    for (let b = 0; b < 10; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) f();
      if (b > 0) batches.push(Number(process.hrtime.bigint() - t0) / 1e3 / reps); // the first batch warms up
    }
    return batches.sort((a, b) => a - b)[4] as number;
  };
  const jsUs = median(() => {
    t++;
    for (const s of state) adamStep(s.p, s.m, s.v, s.g, t, o);
  });
  const wasmUs = median(() => arena.adam(++t, o, 1));
  return { jsUs, wasmUs };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--serve')) return serve();
  const json = args.includes('--json');
  const repeatsArg = args.indexOf('--repeats');
  const repeatsSmall = repeatsArg >= 0 ? Number(args[repeatsArg + 1]) : 2000;
  if (!(repeatsSmall > 0)) throw new Error('--repeats needs a positive number');
  const gapArg = args.indexOf('--gap-ms');
  const gapMs = gapArg >= 0 ? Number(args[gapArg + 1]) : 0;
  if (!(gapMs >= 0)) throw new Error('--gap-ms needs a non-negative number');

  const child = fork(path.resolve(__filename), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const addresses = await new Promise<Addresses>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Addresses));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const ps = new ParameterServerClient({ shards: [addresses.ps], maxMessageBytes: MAX_BYTES });
  const channelOptions = { 'grpc.max_receive_message_length': MAX_BYTES, 'grpc.max_send_message_length': MAX_BYTES };
  const echoClient = new grpc.Client(addresses.echo, grpc.credentials.createInsecure(), channelOptions);
  // A separate channel so the raw and protobuf echo calls do not share one HTTP/2 connection's flow control.
  const rawClient = new grpc.Client(addresses.raw, grpc.credentials.createInsecure(), { ...channelOptions, 'grpc.use_local_subchannel_pool': 1 });
  const echo = echoMethod();
  const callEcho = (req: EchoRequest): Promise<EchoResponse> =>
    new Promise((res, rej) => echoClient.makeUnaryRequest(echo.path, echo.requestSerialize, echo.responseDeserialize, req, (e, r) => (e ? rej(e) : res(r as EchoResponse))));
  const callRaw = (req: Buffer): Promise<Buffer> =>
    new Promise((res, rej) => rawClient.makeUnaryRequest(rawMethod.path, identity, identity, req, (e, r) => (e ? rej(e) : res(r as Buffer))));
  const rawRequest = (payloadBytes: number, replyBytes: number): Buffer => {
    const b = Buffer.alloc(4 + payloadBytes);
    b.writeUInt32LE(replyBytes, 0);
    return b;
  };

  const results: Record<string, unknown>[] = [];
  const lines: string[] = [];
  for (const [label, hidden, repeats] of [
    ['lstm-2x35', 35, repeatsSmall],
    ['lstm-2x256', 256, Math.max(20, Math.round(repeatsSmall / 10))],
  ] as const) {
    const params = controllerParams(hidden);
    const floats = params.reduce((a, t) => a + t.data.length, 0);
    const bytes = floats * 4;
    const adam = adamKernels(params);
    const experiment = `bench-${label}`;
    await ps.init(experiment, params);
    const grads = params.map((t) => ({ ...t, data: new Float32Array(t.data.length).fill(1e-3) }));
    let version = 0;
    let step = 0;
    const contenders = {
      pull: () => ps.pull(experiment),
      'echo-pull': () => callEcho({ payload: new Uint8Array(0), replyBytes: bytes }),
      'raw-pull': () => callRaw(rawRequest(0, bytes)),
      push: async () => {
        const r = await ps.push(experiment, `bench-${step++}`, 'bench', grads, [version]);
        version = r[0]?.version ?? version;
      },
      'echo-push': () => callEcho({ payload: Buffer.alloc(bytes), replyBytes: 0 }),
      'raw-push': () => callRaw(rawRequest(bytes, 0)),
    };
    await interleaved(contenders, Math.min(200, repeats), 0); // warm-up: JIT, connections, buffers
    const t = await interleaved(contenders, repeats, gapMs);
    const s = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summarise(v)])) as Record<keyof typeof contenders, Stat>;
    const ratio = (a: Stat, b: Stat): { p50: number; p99: number } => ({ p50: a.p50 / b.p50, p99: a.p99 / b.p99 });
    const entry = {
      params: label,
      gapMs,
      floats,
      bytes,
      repeats,
      adamUs: adam,
      ms: s,
      ratio: {
        pullVsEcho: ratio(s.pull, s['echo-pull']),
        pushVsEcho: ratio(s.push, s['echo-push']),
        pullVsRaw: ratio(s.pull, s['raw-pull']),
        pushVsRaw: ratio(s.push, s['raw-push']),
      },
    };
    results.push(entry);
    const f = (x: number): string => x.toFixed(3);
    lines.push(`${label}: ${floats} floats (${(bytes / 1024).toFixed(0)} KiB), ${repeats} calls each${gapMs > 0 ? `, ${gapMs} ms apart` : ', back to back'}`);
    lines.push(`  adam step alone: javascript ${adam.jsUs.toFixed(1)} µs, simd kernel ${adam.wasmUs.toFixed(1)} µs (${(adam.jsUs / adam.wasmUs).toFixed(1)}x)`);
    for (const k of Object.keys(s) as (keyof typeof s)[]) lines.push(`  ${k.padEnd(10)} p50 ${f(s[k].p50)} ms  p99 ${f(s[k].p99)} ms`);
    lines.push(
      `  ratio shard/echo: pull p50 ${entry.ratio.pullVsEcho.p50.toFixed(2)} p99 ${entry.ratio.pullVsEcho.p99.toFixed(2)}; ` +
        `push p50 ${entry.ratio.pushVsEcho.p50.toFixed(2)} p99 ${entry.ratio.pushVsEcho.p99.toFixed(2)}`,
    );
    lines.push(`  ratio shard/raw-bytes echo: pull p50 ${entry.ratio.pullVsRaw.p50.toFixed(2)}; push p50 ${entry.ratio.pushVsRaw.p50.toFixed(2)}`);
    console.log(lines.splice(0).join('\n'));
  }
  ps.close();
  echoClient.close();
  rawClient.close();
  child.disconnect();
  if (json) console.log(JSON.stringify({ bench: 'param-server', node: process.version, results }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
