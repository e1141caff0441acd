import * as grpc from '@grpc/grpc-js';
import type { HealthCheckRequestMessage, HealthCheckResponseMessage, ServingStatus } from './proto';

/**
 * The standard grpc.health.v1 service for a fixed set of service names ("" is the whole server). Kept here
 * rather than taking the grpc-health-check package: it is fifty lines and has to follow the shard's close.
 */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<HealthCheckRequestMessage, HealthCheckResponseMessage> }>();

  constructor(services: readonly string[], initial: ServingStatus = 'NOT_SERVING') {
    for (const s of ['', ...services]) this.statuses.set(s, initial);
  }

  /** Sets the status of every known service and notifies watchers. */
  setAll(status: ServingStatus): void {
    for (const s of this.statuses.keys()) this.statuses.set(s, status);
    for (const w of this.watchers) w.call.write({ status });
  }

  /** Ends every Watch stream (so a graceful shutdown does not wait for them). */
  endWatches(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  /** The grpc-js implementation object for addService. */
  implementation(): grpc.UntypedServiceImplementation {
    const check: grpc.handleUnaryCall<HealthCheckRequestMessage, HealthCheckResponseMessage> = (call, callback) => {
      const status = this.statuses.get(call.request.service);
      if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
      else callback(null, { status });
    };
    const watch: grpc.handleServerStreamingCall<HealthCheckRequestMessage, HealthCheckResponseMessage> = (call) => {
      const service = call.request.service;
      call.write({ status: this.statuses.get(service) ?? 'SERVICE_UNKNOWN' });
      const entry = { service, call };
      this.watchers.add(entry);
      call.on('cancelled', () => this.watchers.delete(entry));
    };
    return { Check: check, Watch: watch };
  }
}
