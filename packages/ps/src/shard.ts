import {
  InvalidRequestError,
  LayoutMismatchError,
  ParameterServerConfigError,
  ShardClosedError,
  StaleGradientError,
  UnknownExperimentError,
} from './errors';
import { SliceArena } from './arena';
import {
  compileAdamOptions,
  compileStalenessOptions,
  stalenessWeight,
  stripUndefined,
  type AdamOptions,
  type CompiledAdamOptions,
  type CompiledStalenessOptions,
  type StalenessOptions,
} from './optimizer';
import type {
  ExperimentCounters,
  ExperimentSnapshot,
  ExperimentStats,
  InitInput,
  InitResult,
  PullResult,
  PushInput,
  PushResult,
  ShardLayout,
  ShardSnapshot,
  TensorState,
} from './shard-types';
import { compareCodePoints } from './sharding';
import { assertFinite, decodeFloat32Into, encodeFloat32, firstNonFinite, float32BytesView, fromWire, sameShape, shapeString, type WireTensor } from './tensor';

/** Options of a shard core. */
export interface ShardCoreOptions {
  /** This shard's index in [0, shardCount). */
  shardIndex: number;
  /** Number of shards of the cluster. */
  shardCount: number;
  /** Adam hyper-parameters; defaults in ADAM_DEFAULTS. */
  adam?: AdamOptions;
  /** Staleness bound and down-weighting rule; default: no bound, no down-weighting. */
  staleness?: StalenessOptions;
  /** Apply the mean of every `accumulate` gradients as one update (the paper's recurrent search: 10). Default 1. */
  accumulate?: number;
  /** How many step ids to remember per experiment for duplicate detection. Default 20,000. */
  maxRememberedSteps?: number;
}

/** Shard options with defaults filled in. */
export interface CompiledShardCoreOptions {
  shardIndex: number;
  shardCount: number;
  adam: CompiledAdamOptions;
  staleness: CompiledStalenessOptions;
  accumulate: number;
  maxRememberedSteps: number;
}

/** Checks and fills in shard options; throws ParameterServerConfigError naming the bad option. */
export function compileShardCoreOptions(o: ShardCoreOptions): CompiledShardCoreOptions {
  const positiveInt = (name: string, x: number): number => {
    if (!Number.isInteger(x) || x < 1) throw new ParameterServerConfigError(`${name} must be a positive integer, got ${x}`);
    return x;
  };
  const shardCount = positiveInt('shardCount', o.shardCount);
  if (!Number.isInteger(o.shardIndex) || o.shardIndex < 0 || o.shardIndex >= shardCount) {
    throw new ParameterServerConfigError(`shardIndex must be an integer in [0, ${shardCount}), got ${o.shardIndex}`);
  }
  return {
    shardIndex: o.shardIndex,
    shardCount,
    adam: compileAdamOptions(o.adam),
    staleness: compileStalenessOptions(o.staleness),
    accumulate: positiveInt('accumulate', o.accumulate ?? 1),
    maxRememberedSteps: positiveInt('maxRememberedSteps', o.maxRememberedSteps ?? 20_000),
  };
}

interface Slot extends TensorState {
  size: number;
  // Where an incoming gradient is decoded (in the arena, so a push allocates nothing proportional to the slice).
  grad: Float32Array;
}

interface ExperimentState {
  experiment: string;
  names: string[];
  slots: Map<string, Slot>;
  // Values, moments and gradient buffers of every slot, in `names` order; the slots' arrays are views of it.
  arena: SliceArena;
  version: number;
  pendingGradients: number;
  stepFloor: number;
  steps: Map<string, number>;
  counters: ExperimentCounters;
  checkpointedVersion: number;
  // The Adam settings the experiment stated at init; null: none stated, the shard's own apply.
  adam: CompiledAdamOptions | null;
}

/** What changed in a shard, for listeners such as the checkpointer. */
export interface ShardChange {
  experiment: string;
  kind: 'created' | 'configured' | 'applied' | 'accumulated';
  version: number;
}

const MAX_ID_LENGTH = 256;

/**
 * One parameter-server shard without any transport: holds the slices of one or more experiments, applies
 * Adam on each push as it arrives, counts versions, ignores repeated step ids and enforces the staleness
 * policy. Every method is synchronous and validates its whole input before changing anything, so a rejected
 * request leaves the parameters untouched and concurrent requests never see a half-applied update.
 */
export class ShardCore {
  readonly options: CompiledShardCoreOptions;
  private readonly experiments = new Map<string, ExperimentState>();
  private readonly listeners: ((change: ShardChange) => void)[] = [];
  private closed = false;
  private pendingApply: (() => void) | null = null;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(options: ShardCoreOptions) {
    this.options = compileShardCoreOptions(options);
  }

  /** This shard's index. */
  get shardIndex(): number {
    return this.options.shardIndex;
  }

  /** Registers a listener called synchronously after every state change. */
  onChange(listener: (change: ShardChange) => void): void {
    this.listeners.push(listener);
  }

  /** Creates the experiment's slice unless it exists; an existing one must have the same names and shapes. */
  init(input: InitInput): InitResult {
    this.checkOpen();
    this.flush();
    this.checkRequest(input.experiment, input.layout);
    const tensors = input.tensors.map((w) => {
      const t = fromWire(w);
      assertFinite(t.name, t.data);
      return t;
    });
    const seen = new Set<string>();
    for (const t of tensors) {
      if (seen.has(t.name)) throw new InvalidRequestError(`init of '${input.experiment}': tensor '${t.name}' appears twice`);
      seen.add(t.name);
    }
    const adam = this.experimentAdam(input);
    const existing = this.experiments.get(input.experiment);
    if (existing) {
      const mismatch = describeSpecMismatch(existing, tensors);
      if (mismatch) {
        throw new LayoutMismatchError(
          `experiment '${input.experiment}' already exists on shard ${this.shardIndex} with another parameter set (${mismatch}); ` +
            'use a new experiment id for a different search space or controller size',
        );
      }
      if (adam && existing.adam && !sameAdam(adam, existing.adam)) {
        throw new LayoutMismatchError(
          `experiment '${input.experiment}' already exists on shard ${this.shardIndex} with Adam settings ${describeAdam(existing.adam)}, ` +
            `this init states ${describeAdam(adam)}; an experiment's optimiser settings are fixed: use a new experiment id to change them`,
        );
      }
      if (adam && !existing.adam) {
        // Created (or restored) without stated settings: the experiment's own take over from the shard's.
        existing.adam = adam;
        this.emit({ experiment: input.experiment, kind: 'configured', version: existing.version });
      }
      return { created: false, version: existing.version };
    }
    const { names, slots, arena } = allocateSlots(tensors);
    for (const t of tensors) (slots.get(t.name) as Slot).params.set(t.data);
    const state: ExperimentState = {
      experiment: input.experiment,
      names,
      slots,
      arena,
      version: 0,
      pendingGradients: 0,
      stepFloor: 0,
      steps: new Map(),
      counters: zeroCounters(),
      checkpointedVersion: 0,
      adam,
    };
    this.experiments.set(input.experiment, state);
    this.emit({ experiment: input.experiment, kind: 'created', version: 0 });
    return { created: true, version: 0 };
  }

  // The init's Adam settings over the shard's, checked; null when the init states none.
  private experimentAdam(input: InitInput): CompiledAdamOptions | null {
    if (!input.adam) return null;
    try {
      return compileAdamOptions({ ...this.options.adam, ...stripUndefined(input.adam) });
    } catch (e) {
      if (e instanceof ParameterServerConfigError) throw new InvalidRequestError(`init of '${input.experiment}': Adam settings: ${e.message}`);
      throw e;
    }
  }

  /** Returns a copy of the experiment's slice and its version. */
  pull(experiment: string, layout?: ShardLayout): PullResult {
    return this.pullWith(experiment, layout, encodeFloat32);
  }

  /**
   * Like pull, but the tensor bytes alias the live parameters (no copy): valid only until the next push. For
   * a transport that serialises the reply synchronously (the gRPC server does).
   */
  pullViews(experiment: string, layout?: ShardLayout): PullResult {
    return this.pullWith(experiment, layout, float32BytesView);
  }

  /**
   * Applies (or accumulates) one gradient step. Checks, in order, before changing anything: the experiment
   * and layout, the step id (a known one is answered 'duplicate'), the staleness, then every tensor.
   */
  push(input: PushInput): PushResult {
    this.checkOpen();
    this.flush();
    const state = this.get(input.experiment, input.layout);
    const { stepId } = input;
    if (typeof stepId !== 'string' || stepId.length === 0 || stepId.length > MAX_ID_LENGTH) {
      state.counters.pushesRejectedInvalid++;
      throw new InvalidRequestError(`push to '${input.experiment}': step id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
    if (state.steps.has(stepId)) {
      state.counters.pushesDuplicate++;
      return { outcome: 'duplicate', version: state.version, staleness: Math.max(0, state.version - input.baseVersion), weight: 1 };
    }
    const staleness = this.checkStaleness(state, input);
    let grads;
    try {
      grads = this.decodeGradients(state, input);
    } catch (e) {
      state.counters.pushesRejectedInvalid++;
      throw e;
    }
    const weight = stalenessWeight(this.options.staleness.rule, staleness);
    this.remember(state, stepId);
    const adam = state.adam ?? this.options.adam;
    if (this.options.accumulate === 1 && state.pendingGradients === 0) {
      const t = ++state.version;
      state.counters.pushesApplied++;
      this.pendingApply = () => state.arena.adam(t, adam, weight);
      this.scheduleFlush();
      this.emit({ experiment: state.experiment, kind: 'applied', version: state.version });
      return { outcome: 'applied', version: state.version, staleness, weight };
    }
    const count = ++state.pendingGradients;
    const complete = count >= this.options.accumulate;
    const t = complete ? ++state.version : state.version;
    if (complete) {
      state.pendingGradients = 0;
      state.counters.pushesApplied++;
    } else {
      state.counters.pushesAccumulated++;
    }
    for (const slot of grads) {
      const acc = slot.accumulator ?? (slot.accumulator = new Float32Array(slot.size));
      const g = slot.grad;
      for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + weight * (g[i] as number);
    }
    if (complete) {
      for (const slot of state.slots.values()) {
        const acc = slot.accumulator as Float32Array;
        slot.grad.set(acc);
        acc.fill(0);
      }
      state.arena.adam(t, adam, 1 / count);
    }
    const outcome = complete ? 'applied' : 'accumulated';
    this.emit({ experiment: state.experiment, kind: outcome, version: state.version });
    return { outcome, version: state.version, staleness, weight };
  }

  /** Stats of one experiment, or of all when `experiment` is empty or omitted. */
  stats(experiment?: string): ExperimentStats[] {
    const states = experiment ? [this.get(experiment)] : [...this.experiments.values()];
    return states.map((s) => {
      let parameterCount = 0;
      for (const slot of s.slots.values()) parameterCount += slot.size;
      return {
        experiment: s.experiment,
        version: s.version,
        parameterCount,
        tensorCount: s.slots.size,
        pendingGradients: s.pendingGradients,
        checkpointedVersion: s.checkpointedVersion,
        adam: { ...(s.adam ?? this.options.adam) },
        ...s.counters,
      };
    });
  }

  /** The experiment ids this shard holds. */
  experimentIds(): string[] {
    return [...this.experiments.keys()];
  }

  /** The shard's whole state as live views; encode it synchronously (before the next push). */
  snapshot(): ShardSnapshot {
    this.flush();
    const experiments: ExperimentSnapshot[] = [...this.experiments.values()].map((s) => ({
      experiment: s.experiment,
      version: s.version,
      pendingGradients: s.pendingGradients,
      stepFloor: s.stepFloor,
      steps: [...s.steps.entries()],
      counters: { ...s.counters },
      adam: s.adam,
      tensors: s.names.map((n) => s.slots.get(n) as Slot),
    }));
    return { shardIndex: this.options.shardIndex, shardCount: this.options.shardCount, experiments };
  }

  /** Marks the versions a checkpoint stored (reported by stats as checkpointedVersion). */
  markCheckpointed(versions: ReadonlyMap<string, number>): void {
    for (const [id, v] of versions) {
      const s = this.experiments.get(id);
      if (s) s.checkpointedVersion = Math.max(s.checkpointedVersion, v);
    }
  }

  /**
   * Replaces the state with a snapshot (from a checkpoint); only before serving. Throws LayoutMismatchError
   * when the snapshot belongs to another shard layout, since resharding a live experiment is not supported.
   */
  restore(snapshot: ShardSnapshot): void {
    const { shardIndex, shardCount } = this.options;
    if (snapshot.shardIndex !== shardIndex || snapshot.shardCount !== shardCount) {
      throw new LayoutMismatchError(
        `checkpoint was written by shard ${snapshot.shardIndex} of ${snapshot.shardCount}, but this is shard ${shardIndex} of ${shardCount}; ` +
          'resharding is not supported: use the configuration it was written with, or a fresh checkpoint directory',
      );
    }
    this.experiments.clear();
    for (const e of snapshot.experiments) {
      const { names, slots, arena } = allocateSlots(e.tensors.map((t) => ({ name: t.name, shape: t.shape, size: t.params.length })));
      for (const t of e.tensors) {
        const slot = slots.get(t.name) as Slot;
        slot.params.set(t.params);
        slot.m.set(t.m);
        slot.v.set(t.v);
        slot.accumulator = t.accumulator ? Float32Array.from(t.accumulator) : null;
      }
      this.experiments.set(e.experiment, {
        experiment: e.experiment,
        names,
        slots,
        arena,
        version: e.version,
        pendingGradients: e.pendingGradients,
        stepFloor: e.stepFloor,
        steps: new Map(e.steps),
        counters: { ...e.counters },
        checkpointedVersion: e.version,
        adam: e.adam ? compileAdamOptions(e.adam) : null,
      });
    }
  }

  /** Refuses every later request with ShardClosedError (UNAVAILABLE), so clients retry the restarted shard. */
  close(): void {
    this.flush();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.closed = true;
  }

  /** True while the last push's optimizer step has not been applied yet (see flush). */
  get hasPendingStep(): boolean {
    return this.pendingApply !== null;
  }

  /**
   * Applies the optimizer step of the last push if it is still pending. A push answers first and applies its
   * Adam step a moment later, so the reply does not wait for it; every operation that reads or writes
   * parameters flushes first, so no caller ever sees the version without its update.
   */
  flush(): void {
    const apply = this.pendingApply;
    if (apply) {
      this.pendingApply = null;
      apply();
    }
  }

  // gRPC sends a unary reply's trailers (which complete the call) one or two event-loop turns after the
  // handler returns, so an immediate would still run the step ahead of them; a 1 ms timer lets them go first.
  // Unreferenced: a pending step must not keep a process alive, and close() applies it anyway.
  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 1);
    this.flushTimer.unref();
  }

  private pullWith(experiment: string, layout: ShardLayout | undefined, bytes: (data: Float32Array) => Uint8Array): PullResult {
    this.checkOpen();
    this.flush();
    const state = this.get(experiment, layout);
    const tensors: WireTensor[] = state.names.map((name) => {
      const slot = state.slots.get(name) as Slot;
      return { name, shape: [...slot.shape], data: bytes(slot.params) };
    });
    return { version: state.version, tensors };
  }

  private checkOpen(): void {
    if (this.closed) throw new ShardClosedError(this.options.shardIndex);
  }

  private checkRequest(experiment: string, layout: ShardLayout | undefined): void {
    if (typeof experiment !== 'string' || experiment.length === 0 || experiment.length > MAX_ID_LENGTH) {
      throw new InvalidRequestError(`experiment id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
    if (layout && layout.shardCount !== 0) {
      const { shardIndex, shardCount } = this.options;
      if (layout.shardIndex !== shardIndex || layout.shardCount !== shardCount) {
        throw new LayoutMismatchError(
          `request for shard ${layout.shardIndex} of ${layout.shardCount} reached shard ${shardIndex} of ${shardCount}; ` +
            'check the order and number of shard addresses the client was given',
        );
      }
    }
  }

  private get(experiment: string, layout?: ShardLayout): ExperimentState {
    this.checkRequest(experiment, layout);
    const state = this.experiments.get(experiment);
    if (!state) throw new UnknownExperimentError(experiment, this.options.shardIndex);
    return state;
  }

  private checkStaleness(state: ExperimentState, input: PushInput): number {
    const base = input.baseVersion;
    const where = `push ${input.stepId} from replica '${input.replica}' to '${state.experiment}' on shard ${this.shardIndex}`;
    const { bound } = this.options.staleness;
    if (!Number.isInteger(base) || base < 0) {
      state.counters.pushesRejectedInvalid++;
      throw new InvalidRequestError(`${where}: base version must be a non-negative integer, got ${base}`);
    }
    if (base > state.version) {
      state.counters.pushesRejectedStale++;
      throw new StaleGradientError(
        `${where}: base version ${base} is ahead of the shard's version ${state.version}: the shard restarted from an ` +
          `older checkpoint and lost at least ${base - state.version} update(s) made after it; pull again and recompute the gradient`,
        0,
        bound,
        'shard-behind',
      );
    }
    const staleness = state.version - base;
    if (base < state.stepFloor) {
      state.counters.pushesRejectedStale++;
      throw new StaleGradientError(
        `${where}: base version ${base} is older than ${state.stepFloor}, the oldest version whose step ids the shard still remembers, ` +
          'so it cannot tell a new step from a repeated one; pull again and recompute the gradient',
        staleness,
        bound,
        'below-floor',
      );
    }
    if (staleness > bound) {
      state.counters.pushesRejectedStale++;
      throw new StaleGradientError(
        `${where}: staleness ${staleness} (version ${state.version} - base ${base}) exceeds the bound ${bound}; pull again and recompute the gradient`,
        staleness,
        bound,
        'over-bound',
      );
    }
    return staleness;
  }

  // Decodes every gradient into its slot's buffer and checks them all, so that the Adam step can run over the
  // whole arena; throws InvalidRequestError before anything is applied.
  private decodeGradients(state: ExperimentState, input: PushInput): Slot[] {
    const where = `push ${input.stepId} to '${state.experiment}' on shard ${this.shardIndex}`;
    const out: Slot[] = [];
    const seen = new Set<string>();
    for (const w of input.gradients) {
      const slot = state.slots.get(w.name);
      if (!slot) {
        throw new InvalidRequestError(`${where}: unknown tensor '${w.name}'; this shard holds ${listNames(state.names)}`);
      }
      if (seen.has(w.name)) throw new InvalidRequestError(`${where}: tensor '${w.name}' appears twice`);
      seen.add(w.name);
      if (!sameShape(w.shape, slot.shape)) {
        throw new InvalidRequestError(`${where}: tensor '${w.name}' has shape ${shapeString(w.shape)}, expected ${shapeString(slot.shape)}`);
      }
      decodeFloat32Into(w.data, slot.grad, `tensor '${w.name}'`);
      out.push(slot);
    }
    if (out.length !== state.slots.size) {
      const missing = state.names.filter((n) => !seen.has(n));
      throw new InvalidRequestError(`${where}: missing gradients for ${listNames(missing)}; send one for every tensor of the shard`);
    }
    if (!state.arena.gradientsFinite()) {
      for (const slot of out) {
        const i = firstNonFinite(slot.grad);
        if (i >= 0) throw new InvalidRequestError(`tensor '${slot.name}' has a non-finite value (${String(slot.grad[i])}) at index ${i}`);
      }
    }
    return out;
  }

  private remember(state: ExperimentState, stepId: string): void {
    state.steps.set(stepId, state.version);
    // Forgetting the oldest ids is safe because the floor makes the shard reject any unknown push computed
    // from a version at or before the one a forgotten id arrived at, and a repeat of a step always carries
    // a base version no newer than its arrival version.
    while (state.steps.size > this.options.maxRememberedSteps) {
      const oldest = state.steps.entries().next().value as [string, number];
      state.steps.delete(oldest[0]);
      state.stepFloor = Math.max(state.stepFloor, oldest[1] + 1);
    }
  }

  private emit(change: ShardChange): void {
    for (const l of this.listeners) l(change);
  }
}

// Slots for the given tensors, sorted by name, with their arrays in one fresh arena (zero-filled).
function allocateSlots(specs: readonly { name: string; shape: number[]; size?: number; data?: Float32Array }[]): {
  names: string[];
  slots: Map<string, Slot>;
  arena: SliceArena;
} {
  const sorted = [...specs].sort((a, b) => compareCodePoints(a.name, b.name));
  const sizes = sorted.map((t) => t.size ?? (t.data as Float32Array).length);
  const arena = SliceArena.allocate(sizes);
  const slots = new Map<string, Slot>();
  sorted.forEach((t, i) => {
    const views = arena.tensors[i] as (typeof arena.tensors)[number];
    slots.set(t.name, { name: t.name, shape: [...t.shape], size: sizes[i] as number, ...views, accumulator: null });
  });
  return { names: sorted.map((t) => t.name), slots, arena };
}

function zeroCounters(): ExperimentCounters {
  return { pushesApplied: 0, pushesAccumulated: 0, pushesDuplicate: 0, pushesRejectedStale: 0, pushesRejectedInvalid: 0 };
}

function describeSpecMismatch(state: ExperimentState, tensors: readonly { name: string; shape: number[] }[]): string | null {
  for (const t of tensors) {
    const slot = state.slots.get(t.name);
    if (!slot) return `tensor '${t.name}' is new`;
    if (!sameShape(slot.shape, t.shape)) return `tensor '${t.name}' has shape ${shapeString(t.shape)}, stored ${shapeString(slot.shape)}`;
  }
  if (tensors.length !== state.slots.size) {
    const given = new Set(tensors.map((t) => t.name));
    return `missing ${listNames(state.names.filter((n) => !given.has(n)))}`;
  }
  return null;
}

function listNames(names: readonly string[]): string {
  if (names.length === 0) return 'no tensors';
  const shown = names.slice(0, 8).map((n) => `'${n}'`).join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

function sameAdam(a: CompiledAdamOptions, b: CompiledAdamOptions): boolean {
  return a.learningRate === b.learningRate && a.beta1 === b.beta1 && a.beta2 === b.beta2 && a.epsilon === b.epsilon;
}

function describeAdam(a: CompiledAdamOptions): string {
  return `(learningRate ${a.learningRate}, beta1 ${a.beta1}, beta2 ${a.beta2}, epsilon ${a.epsilon})`;
}
