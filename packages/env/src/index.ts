/**
 * The environment variables of the nasrl services: each service declares the keys it accepts (with their
 * meaning and default, which the deploy checks compare manifests against), refuses any other key under its
 * prefix, and reads values through typed readers whose errors name the key, what it accepts and what it got.
 * Empty values count as unset, since docker-compose and Kubernetes often pass "KEY=" for "not set".
 *
 * @example
 * ```ts
 * const env = new ServiceEnv(process.env, { prefix: 'NASRL_WORKER_', accepted: WORKER_ENV, error: (m) => new WorkerConfigError(m) });
 * const lockMs = env.int('NASRL_WORKER_LOCK_DURATION_MS', 30_000, 500);
 * ```
 */

/** What a ServiceEnv needs to know about its service. */
export interface ServiceEnvOptions {
  /** Prefix of the service's own keys: any key under it that is not accepted is refused. */
  readonly prefix: string;
  /** Every accepted key (the service's own and shared ones such as REDIS_URL), with its meaning. */
  readonly accepted: Readonly<Record<string, string>>;
  /** Makes the service's configuration error from a message. */
  readonly error: (message: string) => Error;
}

/** Reads one service's variables from an environment; every reader throws the service's error. */
export class ServiceEnv {
  constructor(
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly o: ServiceEnvOptions,
  ) {
    const unknown = Object.keys(env).filter((k) => k.startsWith(o.prefix) && !(k in o.accepted));
    if (unknown.length > 0) {
      const own = Object.keys(o.accepted).filter((k) => k.startsWith(o.prefix));
      throw o.error(`unknown variable ${unknown.sort().join(', ')}; accepted ${o.prefix}* keys: ${own.join(', ')}`);
    }
  }

  /** The trimmed value, or undefined when the key is unset or empty. */
  raw(key: string): string | undefined {
    this.check(key);
    const v = this.env[key]?.trim();
    return v === undefined || v === '' ? undefined : v;
  }

  /** The value; throws naming the key and its meaning when it is unset. */
  required(key: string): string {
    const v = this.raw(key);
    if (v === undefined) throw this.o.error(`${key} is required: ${this.o.accepted[key]}`);
    return v;
  }

  /** A string matching `pattern`, or `def`; the error says the key must `requirement` ("match [a-z]+"). */
  matching(key: string, def: string, pattern: RegExp, requirement: string): string;
  matching(key: string, def: undefined, pattern: RegExp, requirement: string): string | undefined;
  matching(key: string, def: string | undefined, pattern: RegExp, requirement: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (!pattern.test(v)) throw this.fail(key, `must ${requirement}`, v);
    return v;
  }

  /** A decimal integer in [min, max], or `def`. */
  int(key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw this.fail(key, `must be an integer in [${min}, ${max}]`, v);
    return Number(v);
  }

  /** A finite number for which `ok` holds (described by `range`, e.g. "> 0"), or `def`. */
  number(key: string, def: number, ok: (x: number) => boolean, range: string): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const x = Number(v);
    if (!Number.isFinite(x) || !ok(x)) throw this.fail(key, `must be a number ${range}`, v);
    return x;
  }

  /** "true" or "false", or `def`. */
  bool(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (v !== 'true' && v !== 'false') throw this.fail(key, 'must be true or false', v);
    return v === 'true';
  }

  /** One of `choices`, or `def`. */
  oneOf<T extends string>(key: string, def: T, choices: readonly T[]): T {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (!(choices as readonly string[]).includes(v)) throw this.fail(key, `must be one of ${choices.join(', ')}`, v);
    return v as T;
  }

  /** A host name or IP address to bind or connect to (no spaces, no scheme or path), or `def`. */
  host(key: string, def: string): string {
    return this.matching(key, def, /^[^\s/]+$/, 'be a host name or IP address');
  }

  /** A TCP port, 0 to 65535 (0 picks a free one where the service binds it), or `def`. */
  port(key: string, def: number): number {
    return this.int(key, def, 0, 65_535);
  }

  /**
   * An index given as an integer or as a name ending in "-N", such as a StatefulSet pod name ("ps-3" → 3),
   * so manifests can pass the pod name straight through; `def` when unset.
   */
  ordinal(key: string, def: number): number {
    const v = this.raw(key);
    if (v === undefined) return def;
    const m = /^(?:.*-)?(\d+)$/.exec(v);
    if (!m) throw this.fail(key, 'must be an integer or a pod name ending in -<ordinal> (e.g. ps-3)', v);
    return Number(m[1]);
  }

  /** The service's error for a bad value of `key`. */
  fail(key: string, requirement: string, got: string): Error {
    return this.o.error(`${key} ${requirement}, got '${got}'`);
  }

  // A key read but not declared is a bug in the service, not in the deployment.
  private check(key: string): void {
    if (!(key in this.o.accepted)) throw new Error(`${key} is read but not declared among the accepted keys`);
  }
}
