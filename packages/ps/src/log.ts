/** One structured log record; `event` names what happened (`listening`, `checkpoint_written`, ...). */
export interface LogRecord {
  event: string;
  level?: 'info' | 'warn' | 'error';
  [field: string]: unknown;
}

/** Where this package's components report events; services pass a JSON-lines writer, tests a collector. */
export type Logger = (record: LogRecord) => void;

/** A logger that drops everything (the default of every component). */
export const silentLogger: Logger = () => undefined;

/** A logger that writes one JSON object per line to `stream`, with a timestamp. */
export function jsonLineLogger(stream: NodeJS.WritableStream = process.stdout): Logger {
  return (record) => {
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', ...record })}\n`);
  };
}
