/**
 * Thrown by the start methods of LocalCluster when its `signal` aborts (Ctrl-C) before the services are
 * ready. Not retryable: the caller stops what was started (`stopServices`, `stopRedis`) and exits.
 */
export class StartupInterruptedError extends Error {
  constructor() {
    super('the cluster was interrupted while its services started');
    this.name = 'StartupInterruptedError';
  }
}

/**
 * Thrown by the start methods of LocalCluster when a service exits before the cluster is ready; the message
 * names the service, its exit code and its last output. Not retryable as such: fix what the output says.
 */
export class ServiceFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceFailedError';
  }
}
