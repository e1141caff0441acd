import * as grpc from '@grpc/grpc-js';
import { InvalidRequestError, ParameterServerConfigError, ShardRpcError, STALE_REASONS, type StaleReason } from './errors';
import { compileAdamOptions, type AdamOptions } from './optimizer';
import {
  loadProtos,
  type AdamSettingsMessage,
  type ExperimentStatsMessage,
  type LayoutMessage,
  type ParameterServerMethods,
  type PushOutcomeName,
  type TensorMessage,
} from './proto';
import { compileRetryOptions, withRetries, type CompiledRetryOptions, type RetryOptions } from './retry';
import { assignShards, compareCodePoints, splitByShard } from './sharding';
import { fromServiceError, STALE_REASON_METADATA_KEY, STALENESS_METADATA_KEY } from './status';
import { assertFinite, fromWire, sameShape, shapeString, toWire, toWireView, type NamedTensor } from './tensor';
import { clientCredentials, type ClientTlsOptions } from './tls';

/** Options of a ParameterServerClient. */
export interface ParameterServerClientOptions {
  /** Shard addresses (host:port), in shard-index order; their number is the shard count. */
  shards: readonly string[];
  /** Deadline of each attempt of each call, in ms. Default 10,000. */
  deadlineMs?: number;
  /** Retries after UNAVAILABLE or DEADLINE_EXCEEDED (safe: every RPC is idempotent). */
  retry?: RetryOptions;
  /** TLS from PEM files; plaintext when omitted. */
  tls?: ClientTlsOptions;
  /** Largest message sent or received, in bytes. Default 64 MiB. */
  maxMessageBytes?: number;
  /** The repository's proto folder; found automatically when omitted. */
  protoDir?: string;
}

/** Result of `init`: per shard, whether this call created the experiment there, and the shard's version. */
export interface ClientInitResult {
  created: boolean[];
  versions: number[];
}

/** Result of `pull`: every named tensor (sorted by name) and each shard's version (pass them to `push`). */
export interface ClientPullResult {
  tensors: NamedTensor[];
  versions: number[];
}

/** What one shard did with a push. */
export type ShardPushStatus = 'applied' | 'accumulated' | 'duplicate' | 'rejected-stale';

/** Result of a push on one shard. */
export interface ShardPushResult {
  shard: number;
  status: ShardPushStatus;
  /** The shard's version after the push (for rejected-stale: unknown, -1). */
  version: number;
  staleness: number;
  weight: number;
  /** The shard's explanation when rejected. */
  message?: string;
  /** Why the shard refused it, when rejected-stale ('unknown' from a shard too old to say). */
  reason?: StaleReason | 'unknown';
}

/** Stats of one shard. */
export interface ShardStats {
  shard: number;
  address: string;
  experiments: ExperimentStatsMessage[];
}

const STATUS_OF: Record<PushOutcomeName, ShardPushStatus | null> = {
  PUSH_OUTCOME_APPLIED: 'applied',
  PUSH_OUTCOME_ACCUMULATED: 'accumulated',
  PUSH_OUTCOME_DUPLICATE: 'duplicate',
  PUSH_OUTCOME_UNSPECIFIED: null,
};

/**
 * Talks to the S shards of a parameter-server cluster. Splits tensors with the deterministic sharding
 * (`assignShards`), calls all shards in parallel, and retries each shard's call on UNAVAILABLE with
 * exponential backoff. Errors other than a stale push reject with ShardRpcError naming the shard.
 */
export class ParameterServerClient {
  readonly shardCount: number;
  private readonly clients: grpc.Client[];
  private readonly methods: ParameterServerMethods;
  private readonly deadlineMs: number;
  private readonly retry: CompiledRetryOptions;
  // Names and shapes per experiment from the last init or pull, to refuse a malformed push before any shard
  // applies part of it.
  private readonly known = new Map<string, Map<string, number[]>>();

  constructor(private readonly o: ParameterServerClientOptions) {
    if (o.shards.length === 0) throw new ParameterServerConfigError('the client needs at least one shard address');
    this.shardCount = o.shards.length;
    this.deadlineMs = o.deadlineMs ?? 10_000;
    if (!(this.deadlineMs > 0)) throw new ParameterServerConfigError(`deadlineMs must be positive, got ${this.deadlineMs}`);
    this.retry = compileRetryOptions(o.retry);
    this.methods = loadProtos(o.protoDir).parameterServer;
    const maxBytes = o.maxMessageBytes ?? 64 * 1024 * 1024;
    const credentials = clientCredentials(o.tls);
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': maxBytes,
      // Shards restart (deploys, crashes); reconnect within the first retry or two rather than after 1 s+.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      ...(o.tls?.serverNameOverride ? { 'grpc.ssl_target_name_override': o.tls.serverNameOverride } : {}),
    };
    this.clients = o.shards.map((addr) => new grpc.Client(addr, credentials, channelOptions));
  }

  /**
   * Initialises the experiment on every shard with its slice of `tensors` (idempotent; first caller wins) and
   * the experiment's Adam settings (left-out ones from ADAM_DEFAULTS), which every shard keeps with it and
   * applies to the experiment's pushes; without them, each shard's own settings apply.
   */
  async init(experiment: string, tensors: readonly NamedTensor[], adam?: AdamOptions): Promise<ClientInitResult> {
    const parts = splitByShard(tensors.map(toWire), assignShards(tensors, this.shardCount));
    // Checked and completed here (ADAM_DEFAULTS), so that a bad value fails before any shard sees it.
    const settings: AdamSettingsMessage | null = adam === undefined ? null : compileAdamOptions(adam);
    const results = await this.all((s) =>
      this.call(s, this.methods.Init, { experiment, layout: this.layout(s), tensors: parts[s] as TensorMessage[], adam: settings }),
    );
    this.remember(experiment, tensors);
    return { created: results.map((r) => r.created), versions: results.map((r) => r.version) };
  }

  /** Pulls every shard's slice; tensors come back sorted by name, versions by shard index. */
  async pull(experiment: string): Promise<ClientPullResult> {
    const results = await this.all((s) => this.call(s, this.methods.Pull, { experiment, layout: this.layout(s) }));
    const tensors = results.flatMap((r) => r.tensors.map(fromWire)).sort((a, b) => compareCodePoints(a.name, b.name));
    this.remember(experiment, tensors);
    return { tensors, versions: results.map((r) => r.version) };
  }

  /**
   * Pushes one controller step's gradients (one for every parameter) to all shards. `versions` are the
   * per-shard versions of the pull the gradient was computed from; `stepId` must be the same on a retry, so a
   * shard that already applied it answers 'duplicate'. A shard that finds the gradient too stale answers
   * 'rejected-stale'; any other failure rejects after every shard has answered. Gradients with NaN/Inf, or
   * whose names and shapes differ from this client's last init or pull of the experiment, are refused with
   * InvalidRequestError before any shard is called, so no shard applies part of a malformed step.
   */
  async push(
    experiment: string,
    stepId: string,
    replica: string,
    gradients: readonly NamedTensor[],
    versions: readonly number[],
  ): Promise<ShardPushResult[]> {
    if (versions.length !== this.shardCount) {
      throw new ParameterServerConfigError(`push needs one base version per shard (${this.shardCount}), got ${versions.length}`);
    }
    this.checkGradients(experiment, stepId, gradients);
    // Views, not copies: the caller awaits the push, and gradients are serialised as each call starts.
    const parts = splitByShard(gradients.map(toWireView), assignShards(gradients, this.shardCount));
    return this.all(async (s): Promise<ShardPushResult> => {
      try {
        const r = await this.call(s, this.methods.Push, {
          experiment,
          layout: this.layout(s),
          replica,
          stepId,
          baseVersion: versions[s] as number,
          gradients: parts[s] as TensorMessage[],
        });
        const status = STATUS_OF[r.outcome];
        if (!status) throw new ShardRpcError(s, this.address(s), grpc.status.INTERNAL, 'INTERNAL', `unknown push outcome ${r.outcome}`, false);
        return { shard: s, status, version: r.version, staleness: r.staleness, weight: r.weight };
      } catch (e) {
        if (e instanceof StaleRejection) {
          return { shard: s, status: 'rejected-stale', version: -1, staleness: e.staleness, weight: 0, message: e.message, reason: e.reason };
        }
        throw e;
      }
    });
  }

  /** Counters and versions of every shard (of one experiment when given). */
  async stats(experiment = ''): Promise<ShardStats[]> {
    const results = await this.all((s) => this.call(s, this.methods.Stats, { experiment }));
    return results.map((r, s) => ({ shard: s, address: this.address(s), experiments: r.experiments }));
  }

  /** Closes the channels; calls in flight fail with CANCELLED. */
  close(): void {
    for (const c of this.clients) c.close();
  }

  private remember(experiment: string, tensors: readonly NamedTensor[]): void {
    this.known.set(experiment, new Map(tensors.map((t) => [t.name, [...t.shape]])));
  }

  private checkGradients(experiment: string, stepId: string, gradients: readonly NamedTensor[]): void {
    const where = `push ${stepId} to '${experiment}'`;
    for (const g of gradients) {
      try {
        assertFinite(g.name, g.data);
      } catch (e) {
        throw new InvalidRequestError(`${where}: ${(e as Error).message}`);
      }
    }
    const known = this.known.get(experiment);
    if (!known) return;
    const seen = new Set<string>();
    for (const g of gradients) {
      const shape = known.get(g.name);
      if (!shape) throw new InvalidRequestError(`${where}: unknown tensor '${g.name}' (not in the experiment's parameters)`);
      if (!sameShape(shape, g.shape)) throw new InvalidRequestError(`${where}: tensor '${g.name}' has shape ${shapeString(g.shape)}, expected ${shapeString(shape)}`);
      seen.add(g.name);
    }
    if (seen.size !== known.size || seen.size !== gradients.length) {
      const missing = [...known.keys()].filter((n) => !seen.has(n));
      throw new InvalidRequestError(`${where}: needs exactly one gradient per parameter; missing ${missing.map((n) => `'${n}'`).join(', ') || 'none'}, ${gradients.length - seen.size} repeated`);
    }
  }

  private address(s: number): string {
    return this.o.shards[s] as string;
  }

  private layout(s: number): LayoutMessage {
    return { shardIndex: s, shardCount: this.shardCount };
  }

  // Waits for every shard before rejecting, so no call is left running behind a caller that moved on.
  private async all<T>(perShard: (s: number) => Promise<T>): Promise<T[]> {
    const settled = await Promise.allSettled(Array.from({ length: this.shardCount }, (_, s) => perShard(s)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
  }

  private call<Req, Res>(s: number, method: grpc.MethodDefinition<Req, Res>, request: Req): Promise<Res> {
    const client = this.clients[s] as grpc.Client;
    const once = (): Promise<Res> =>
      new Promise<Res>((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          request,
          new grpc.Metadata(),
          { deadline: Date.now() + this.deadlineMs },
          (err, res) => {
            if (err) {
              const staleness = err.metadata?.get(STALENESS_METADATA_KEY)[0];
              if (err.code === grpc.status.FAILED_PRECONDITION && staleness !== undefined) {
                const reason = String(err.metadata.get(STALE_REASON_METADATA_KEY)[0] ?? '');
                reject(new StaleRejection(err.details, Number(staleness), STALE_REASONS.find((r) => r === reason) ?? 'unknown'));
              } else {
                reject(fromServiceError(err, s, this.address(s)));
              }
            } else if (res === undefined) {
              reject(new ShardRpcError(s, this.address(s), grpc.status.INTERNAL, 'INTERNAL', 'empty response', false));
            } else {
              resolve(res);
            }
          },
        );
      });
    return withRetries(this.retry, once, (e) => e instanceof ShardRpcError && e.retryable);
  }
}

class StaleRejection extends Error {
  constructor(message: string, readonly staleness: number, readonly reason: StaleReason | 'unknown') {
    super(message);
  }
}
