/** Thrown for a bad command line; the message says which flag and what was expected. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parsed command line: positional arguments and `--flag value` / `--flag=value` / `--switch` options. */
export interface ParsedArgs {
  readonly positional: string[];
  readonly flags: Map<string, string | true>;
}

/**
 * Parses `argv` against the known flags: `valued` take a value, `switches` take none. An unknown flag or a
 * missing value is a UsageError that names it.
 */
export function parseArgs(argv: readonly string[], valued: readonly string[], switches: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (switches.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    } else if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      const known = [...valued, ...switches].map((f) => `--${f}`).join(', ');
      throw new UsageError(`unknown option --${name}${known ? ` (known: ${known})` : ''}`);
    }
  }
  return { positional, flags };
}

/** A string flag's value, or the fallback. */
export function stringFlag(args: ParsedArgs, name: string, fallback: string): string;
export function stringFlag(args: ParsedArgs, name: string): string | undefined;
export function stringFlag(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : fallback;
}

/** An integer flag's value within [min, max], or the fallback; a UsageError names the flag otherwise. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** A number flag's value within [min, max], or the fallback. */
export function numberFlag(args: ParsedArgs, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name}: expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** `--refused-reward worst|X`: the reward of a refused architecture (see ExperimentConfig.refusedReward). */
export function refusedRewardFlag(args: ParsedArgs, fallback: 'worst' | number = 'worst'): 'worst' | number {
  const v = args.flags.get('refused-reward');
  if (v === undefined) return fallback;
  if (v === 'worst') return v;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--refused-reward: expected worst (the worst reward seen so far) or a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Whether a switch was given. */
export function switchFlag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (CI logs, pipes). */
export class ProgressBar {
  private last = 0;
  private readonly enabled: boolean;
  constructor(private readonly label: string, private readonly total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY);
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;

  /** Shows `done` of `total`, at most ten times a second. */
  update(done: number, detail = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((width * done) / Math.max(1, this.total));
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${detail}\x1b[K`);
  }

  /** Clears the bar's line. */
  done(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
