/** One structured log record; printed as a JSON line. */
export type LogRecord = Record<string, unknown> & { event: string };

/** A logger that writes one JSON object per line to stdout, tagged with the service and worker id. */
export function jsonLogger(workerId: string, extra: Record<string, unknown> = {}): (record: LogRecord) => void {
  return (record) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'worker', worker: workerId, ...extra, ...record })}\n`);
  };
}
