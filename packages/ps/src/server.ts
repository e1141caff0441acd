import * as grpc from '@grpc/grpc-js';
import { ParameterServerConfigError } from './errors';
import { HealthService } from './health';
import { silentLogger, type Logger } from './log';
import {
  loadProtos,
  PARAMETER_SERVER_SERVICE,
  type InitRequestMessage,
  type InitResponseMessage,
  type LayoutMessage,
  type PullRequestMessage,
  type PullResponseMessage,
  type PushOutcomeName,
  type PushRequestMessage,
  type PushResponseMessage,
  type StatsRequestMessage,
  type StatsResponseMessage,
} from './proto';
import type { ShardCore } from './shard';
import type { PushOutcome, ShardLayout } from './shard-types';
import { toServiceError } from './status';
import { serverCredentials, type ServerTlsOptions } from './tls';

/** Options of a shard's gRPC server. */
export interface ParameterServerServerOptions {
  /** The shard core it serves. */
  shard: ShardCore;
  /** host:port to listen on; port 0 picks a free one (see `address` after start). Default 127.0.0.1:7070. */
  address?: string;
  /** TLS from PEM files; plaintext when omitted. */
  tls?: ServerTlsOptions;
  /** Largest message accepted or sent, in bytes. Default 64 MiB (a 16M-float parameter slice). */
  maxMessageBytes?: number;
  /** How long close() lets in-flight calls finish before cancelling them. Default 5,000 ms. */
  shutdownGraceMs?: number;
  /** The repository's proto folder; found automatically when omitted. */
  protoDir?: string;
  /** Where the server reports rejected calls. */
  log?: Logger;
}

const OUTCOME_NAMES: Record<PushOutcome, PushOutcomeName> = {
  applied: 'PUSH_OUTCOME_APPLIED',
  accumulated: 'PUSH_OUTCOME_ACCUMULATED',
  duplicate: 'PUSH_OUTCOME_DUPLICATE',
};

/** A shard's gRPC server: the ParameterServer and Health services over one ShardCore. */
export class ParameterServerServer {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: grpc.Server,
    private readonly health: HealthService,
    private readonly graceMs: number,
    /** The bound address, host:port with the real port. */
    readonly address: string,
    /** The bound port. */
    readonly port: number,
  ) {}

  /** Binds, starts serving and marks the health status SERVING; rejects if the address cannot be bound. */
  static async start(o: ParameterServerServerOptions): Promise<ParameterServerServer> {
    const address = o.address ?? '127.0.0.1:7070';
    const maxMessageBytes = o.maxMessageBytes ?? 64 * 1024 * 1024;
    const graceMs = o.shutdownGraceMs ?? 5_000;
    const log = o.log ?? silentLogger;
    const colon = address.lastIndexOf(':');
    if (colon <= 0 || !/^\d+$/.test(address.slice(colon + 1))) {
      throw new ParameterServerConfigError(`listen address must be host:port, got '${address}'`);
    }
    const protos = loadProtos(o.protoDir);
    const server = new grpc.Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
    const health = new HealthService([PARAMETER_SERVER_SERVICE]);
    server.addService(protos.parameterServer as unknown as grpc.ServiceDefinition, serviceImplementation(o.shard, log));
    server.addService(protos.health as unknown as grpc.ServiceDefinition, health.implementation());
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, serverCredentials(o.tls), (err, p) => (err ? reject(err) : resolve(p)));
    });
    health.setAll('SERVING');
    return new ParameterServerServer(server, health, graceMs, `${address.slice(0, colon)}:${port}`, port);
  }

  /**
   * Stops accepting calls, lets in-flight ones finish for up to the grace period, then cancels the rest.
   * Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.health.setAll('NOT_SERVING');
      this.health.endWatches();
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, this.graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closing;
  }
}

function serviceImplementation(shard: ShardCore, log: Logger): grpc.UntypedServiceImplementation {
  const init = unary<InitRequestMessage, InitResponseMessage>('Init', log, (req) => {
    const r = shard.init({ experiment: req.experiment, layout: layoutOf(req.layout), tensors: req.tensors, adam: req.adam ?? null });
    return { experiment: req.experiment, created: r.created, version: r.version };
  });
  const pull = unary<PullRequestMessage, PullResponseMessage>('Pull', log, (req) => {
    // Views are safe: grpc-js serialises the reply synchronously inside the callback.
    const r = shard.pullViews(req.experiment, layoutOf(req.layout));
    return { experiment: req.experiment, version: r.version, tensors: r.tensors };
  });
  const push = unary<PushRequestMessage, PushResponseMessage>('Push', log, (req) => {
    const r = shard.push({
      experiment: req.experiment,
      layout: layoutOf(req.layout),
      replica: req.replica,
      stepId: req.stepId,
      baseVersion: req.baseVersion,
      gradients: req.gradients,
    });
    return { experiment: req.experiment, outcome: OUTCOME_NAMES[r.outcome], version: r.version, staleness: r.staleness, weight: r.weight };
  });
  const stats = unary<StatsRequestMessage, StatsResponseMessage>('Stats', log, (req) => ({
    layout: { shardIndex: shard.options.shardIndex, shardCount: shard.options.shardCount },
    experiments: shard.stats(req.experiment || undefined),
  }));
  return { Init: init, Pull: pull, Push: push, Stats: stats };
}

function unary<Req extends { experiment: string }, Res>(
  method: string,
  log: Logger,
  handle: (req: Req) => Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let response: Res;
    try {
      response = handle(call.request);
    } catch (e) {
      const err = toServiceError(e);
      log({ event: 'rpc_rejected', level: 'warn', method, experiment: call.request.experiment, code: grpc.status[err.code ?? 2], message: err.details });
      callback(err);
      return;
    }
    callback(null, response);
  };
}

function layoutOf(l: LayoutMessage | null): ShardLayout | undefined {
  return l ? { shardIndex: l.shardIndex, shardCount: l.shardCount } : undefined;
}
