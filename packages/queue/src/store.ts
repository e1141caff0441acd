import type { Redis } from 'ioredis';
import type { BaselineState } from '@nasrl/controller';
import { parseExperimentConfig, type ExperimentConfig } from './config';
import { ConflictError, ExperimentNotFoundError } from './errors';
import { parseChildResult, type ChildJob, type ChildResult } from './jobs';
import { EXPERIMENTS_KEY, experimentKeys } from './keys';
import { CLAIM_RESERVATION, FOLD_WORST_REWARD, RECORD_RESULT, RESERVE, UPDATE_BASELINE } from './scripts';

/** What the results store keeps for one evaluated child. */
export interface EvaluationRecord {
  readonly stepId: string;
  readonly replica: number;
  /** Position of the child in its step. */
  readonly childIndex: number;
  readonly tokens: readonly number[];
  readonly layers: number;
  readonly archKey: string;
  readonly arch: unknown;
  /** Versions of the parameter-server shards the sampling policy had. */
  readonly parameterVersions: readonly number[];
  readonly result: ChildResult;
}

/** An evaluation as stored: the record, its child id, and its place in the order of arrival. */
export interface StoredEvaluation extends EvaluationRecord {
  /** 0-based order of arrival over the whole experiment. */
  readonly index: number;
  readonly childId: string;
  /** Milliseconds since the epoch, by the recording worker's clock. */
  readonly recordedAt: number;
}

/** The shared baseline before and after an update. */
export interface BaselineUpdate {
  readonly before: BaselineState;
  readonly after: BaselineState;
  /** False when `stepId` had already been counted: nothing changed, and before/after are those of that first update. */
  readonly applied: boolean;
}

/**
 * Architectures of the budget reserved for one controller step. It stays in the store from the reservation
 * until its step has been enqueued (releaseReservation), so a replica that dies in between does not lose it:
 * the replica's next run, or any replica once it is stale, claims it and enqueues the step.
 */
export interface Reservation {
  /** The step the architectures are for: `r<replica>-s<stepNo>`. */
  readonly stepId: string;
  /** The replica that reserved it (the step id and the sampling seed derive from it). */
  readonly replica: number;
  /** The reserving replica's step number, 1, 2, ...; survives restarts of the replica. */
  readonly stepNo: number;
  /** Architectures to sample, 1..m. */
  readonly granted: number;
  /** Architectures reserved before this one, over all replicas (drives the depth schedule). */
  readonly sampledBefore: number;
}

/** The step id of a replica's n-th step. */
export function replicaStepId(replica: number, stepNo: number): string {
  return `${stepIdPrefix(replica)}${stepNo}`;
}

function stepIdPrefix(replica: number): string {
  return `r${replica}-s`;
}

/** The record of a child job's evaluation, for recordResult. */
export function evaluationRecord(job: ChildJob, result: ChildResult): EvaluationRecord {
  return {
    stepId: job.stepId, replica: job.replica, childIndex: job.index, tokens: [...job.tokens], layers: job.layers,
    archKey: job.archKey, arch: job.arch, parameterVersions: [...job.parameterVersions], result,
  };
}

/**
 * Everything an experiment shares between controller replicas and workers, in Redis under `nasrl:`:
 * the configuration, the EMA baseline, the architecture budget, step counters, the results and the reward
 * cache. Updates that replicas race on are single Lua scripts, so they are atomic.
 */
export class ExperimentStore {
  constructor(readonly redis: Redis) {}

  /**
   * Stores a validated configuration. Creating an existing id with an identical configuration is a no-op
   * (a restarted `nasrl local` or a second replica); with a different one it throws ConflictError.
   */
  async create(config: ExperimentConfig): Promise<ExperimentConfig> {
    const canonical = parseExperimentConfig(config);
    const text = JSON.stringify(canonical);
    const keys = experimentKeys(canonical.id);
    const set = await this.redis.set(keys.config, text, 'NX');
    if (set === null) {
      // Compared in today's canonical form, so that a field added since (with its default) is no conflict.
      const stored = await this.redis.get(keys.config);
      const storedText = stored === null ? null : JSON.stringify(parseExperimentConfig(stored));
      if (storedText !== null && storedText !== text) throw new ConflictError(canonical.id, describeDifference(storedText, text));
    }
    await this.redis.sadd(EXPERIMENTS_KEY, canonical.id);
    return canonical;
  }

  /** The stored configuration; throws ExperimentNotFoundError naming the id. */
  async get(id: string): Promise<ExperimentConfig> {
    const text = await this.redis.get(experimentKeys(id).config);
    if (text === null) throw new ExperimentNotFoundError(id);
    return parseExperimentConfig(text);
  }

  /** Ids of every stored experiment, sorted. */
  async list(): Promise<string[]> {
    return (await this.redis.smembers(EXPERIMENTS_KEY)).sort();
  }

  /** The shared EMA baseline (EMPTY_BASELINE before any update). */
  async baseline(id: string): Promise<BaselineState> {
    const [value, count] = await this.redis.hmget(experimentKeys(id).baseline, 'value', 'count');
    return { value: Number(value ?? 0), count: Number(count ?? 0) };
  }

  /**
   * Folds `rewards` into the shared baseline atomically (concurrent replicas never lose an update) and
   * returns the state before and after. With `stepId`, a step's rewards are counted once even if the call is
   * repeated (a retried step), and every repeat returns the same before/after as the first call, so a retried
   * step computes the same advantages.
   */
  async updateBaseline(id: string, rewards: readonly number[], decay: number, stepId?: string): Promise<BaselineUpdate> {
    if (!(decay >= 0 && decay < 1)) throw new RangeError(`updateBaseline: decay must be in [0, 1), got ${decay}`);
    if (rewards.some((r) => !Number.isFinite(r))) throw new RangeError('updateBaseline: every reward must be a finite number');
    const k = experimentKeys(id);
    const out = (await UPDATE_BASELINE.run(this.redis, [k.config, k.baseline, k.baselineSteps], [String(decay), stepId ?? '', ...rewards.map(String)])) as string[];
    if (out[0] === 'missing') throw new ExperimentNotFoundError(id);
    const state = (v: string | undefined, c: string | undefined): BaselineState => ({ value: Number(v), count: Number(c) });
    return { before: state(out[1], out[2]), after: state(out[3], out[4]), applied: out[0] === 'ok' };
  }

  /**
   * Folds a step's rewards into the experiment's worst reward seen, shared by every replica, and returns it
   * (undefined while no reward has been seen). A step is counted once: a retried step gets the same answer
   * as its first call, so it gives its refused children the same reward.
   */
  async foldWorstReward(id: string, stepId: string, rewards: readonly number[]): Promise<number | undefined> {
    if (stepId === '') throw new RangeError('foldWorstReward: stepId must not be empty');
    if (rewards.some((r) => !Number.isFinite(r))) throw new RangeError('foldWorstReward: every reward must be a finite number');
    const k = experimentKeys(id);
    const [status, worst] = (await FOLD_WORST_REWARD.run(this.redis, [k.config, k.worstReward], [stepId, ...rewards.map(String)])) as [string, string];
    if (status === 'missing') throw new ExperimentNotFoundError(id);
    return worst === '' ? undefined : Number(worst);
  }

  /**
   * Atomically reserves up to `m` architectures of the experiment's budget (budgetArchs) for the replica's
   * next step: the sum granted to all callers never exceeds it. Returns null when the budget is spent. The
   * reservation is kept until releaseReservation; see claimReservation for one whose replica died.
   */
  async reserve(id: string, replica: number, m: number): Promise<Reservation | null> {
    if (!Number.isInteger(m) || m < 1) throw new RangeError(`reserve: m must be a positive integer, got ${m}`);
    if (!Number.isInteger(replica) || replica < 0) throw new RangeError(`reserve: replica must be a non-negative integer, got ${replica}`);
    const k = experimentKeys(id);
    const [granted, sampledBefore, stepNo] = (await RESERVE.run(this.redis, [k.config, k.sampled, k.replicaStep(replica), k.reservations], [m, replica, stepIdPrefix(replica)])) as [number, number, number];
    if (granted < 0) throw new ExperimentNotFoundError(id);
    if (granted === 0) return null;
    return { stepId: replicaStepId(replica, stepNo), replica, stepNo, granted, sampledBefore };
  }

  /**
   * Takes over an outstanding reservation, if there is one this replica should drive: one it owns (made by
   * an earlier run of this replica, which died before enqueuing the step) or one whose owner has not touched
   * it for `staleMs` (that replica died or is gone), other than the `skip` step ids (those the replica is
   * driving at the moment, when it keeps several steps in flight). The caller becomes the owner.
   */
  async claimReservation(id: string, replica: number, staleMs: number, skip: Iterable<string> = []): Promise<Reservation | null> {
    if (!(staleMs >= 0)) throw new RangeError(`claimReservation: staleMs must be a non-negative number, got ${staleMs}`);
    const out = (await CLAIM_RESERVATION.run(this.redis, [experimentKeys(id).reservations], [replica, Math.round(staleMs), ...skip])) as [string, string] | null;
    if (out === null) return null;
    const r = JSON.parse(out[1]) as { replica: number; stepNo: number; granted: number; sampledBefore: number };
    return { stepId: out[0], replica: r.replica, stepNo: r.stepNo, granted: r.granted, sampledBefore: r.sampledBefore };
  }

  /** Forgets a reservation once its step is enqueued (or known to be done); returns whether it was there. */
  async releaseReservation(id: string, stepId: string): Promise<boolean> {
    return (await this.redis.hdel(experimentKeys(id).reservations, stepId)) === 1;
  }

  /** Step ids of the reservations not yet released. */
  async outstandingReservations(id: string): Promise<string[]> {
    return (await this.redis.hkeys(experimentKeys(id).reservations)).sort();
  }

  /** Architectures reserved so far over all replicas. */
  async sampled(id: string): Promise<number> {
    return Number((await this.redis.get(experimentKeys(id).sampled)) ?? 0);
  }

  /**
   * Stores one child's evaluation, once per child id: returns false (storing nothing) when the child was
   * already recorded, so a retried or re-enqueued child is never counted twice.
   */
  async recordResult(id: string, childId: string, record: EvaluationRecord): Promise<boolean> {
    const k = experimentKeys(id);
    const text = JSON.stringify({ childId, recordedAt: Date.now(), ...record });
    const index = (await RECORD_RESULT.run(this.redis, [k.config, k.resultIndex, k.results], [childId, text])) as number;
    if (index === -2) throw new ExperimentNotFoundError(id);
    return index >= 0;
  }

  /** The stored evaluation of a child, or null when none was recorded. */
  async resultFor(id: string, childId: string): Promise<StoredEvaluation | null> {
    const k = experimentKeys(id);
    const index = await this.redis.hget(k.resultIndex, childId);
    if (index === null) return null;
    const text = await this.redis.lindex(k.results, Number(index));
    return text === null ? null : decodeEvaluation(text, Number(index));
  }

  /** Evaluations in order of arrival, from index `from` to `to` inclusive (default: all). */
  async results(id: string, from = 0, to = -1): Promise<StoredEvaluation[]> {
    const texts = await this.redis.lrange(experimentKeys(id).results, from, to);
    const start = from >= 0 ? from : Math.max(0, (await this.resultCount(id)) + from);
    return texts.map((t, i) => decodeEvaluation(t, start + i));
  }

  /** Number of evaluations recorded. */
  async resultCount(id: string): Promise<number> {
    return this.redis.llen(experimentKeys(id).results);
  }

  /** The cached result of an architecture key, or null (reward cache, used when reuseEvaluations is on). */
  async cachedReward(id: string, archKey: string): Promise<ChildResult | null> {
    const text = await this.redis.hget(experimentKeys(id).rewards, archKey);
    return text === null ? null : parseChildResult(JSON.parse(text) as unknown, 'cached result');
  }

  /** Caches the result of an architecture key; the first result stored for a key wins. Returns whether it was stored. */
  async cacheReward(id: string, archKey: string, result: ChildResult): Promise<boolean> {
    return (await this.redis.hsetnx(experimentKeys(id).rewards, archKey, JSON.stringify(result))) === 1;
  }

  /**
   * Stores the controller parameters a step samples from (an opaque blob; see @nasrl/cluster's
   * step-parameters codec), unless some replica stored them first, and returns the blob that is stored: the
   * caller's, or the first one. A replica that takes over a step therefore samples from the same parameters
   * as its first owner, and the step's gradient is computed at them. Kept until dropStepParameters, or for
   * `ttlSeconds` at most.
   */
  async saveStepParameters(id: string, stepId: string, blob: Buffer, ttlSeconds: number): Promise<Buffer> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`saveStepParameters: ttlSeconds must be a positive integer, got ${ttlSeconds}`);
    const key = experimentKeys(id).stepParameters(stepId);
    if ((await this.redis.set(key, blob, 'EX', ttlSeconds, 'NX')) === 'OK') return blob;
    // Someone stored them first; null only if the step finished and dropped them in between.
    return (await this.redis.getBuffer(key)) ?? blob;
  }

  /** The parameters a step sampled from, or null when they were never stored, dropped or expired. */
  async stepParameters(id: string, stepId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(experimentKeys(id).stepParameters(stepId));
  }

  /** Forgets a step's parameters once its gradient is applied. */
  async dropStepParameters(id: string, stepId: string): Promise<void> {
    await this.redis.del(experimentKeys(id).stepParameters(stepId));
  }

  /** Marks a step's gradient as applied; returns false when it already was (another replica finished it). */
  async markStepApplied(id: string, stepId: string): Promise<boolean> {
    return (await this.redis.sadd(experimentKeys(id).applied, stepId)) === 1;
  }

  /** Whether a step's gradient was marked applied. */
  async isStepApplied(id: string, stepId: string): Promise<boolean> {
    return (await this.redis.sismember(experimentKeys(id).applied, stepId)) === 1;
  }

  /**
   * Stops an experiment for good (`nasrl stop`): replicas reserve no more steps, workers cancel its active
   * children and refuse its waiting ones, step processors push nothing more. Returns false when it already
   * was stopped; throws ExperimentNotFoundError for an unknown id.
   */
  async stop(id: string): Promise<boolean> {
    await this.get(id);
    return (await this.redis.set(experimentKeys(id).stopped, String(Date.now()), 'NX')) === 'OK';
  }

  /** Whether the experiment was stopped (see stop). */
  async isStopped(id: string): Promise<boolean> {
    return (await this.redis.exists(experimentKeys(id).stopped)) === 1;
  }
}

function decodeEvaluation(text: string, index: number): StoredEvaluation {
  const raw = JSON.parse(text) as Omit<StoredEvaluation, 'index'>;
  return { index, ...raw };
}

function describeDifference(stored: string, wanted: string): string {
  const a = JSON.parse(stored) as Record<string, unknown>;
  const b = JSON.parse(wanted) as Record<string, unknown>;
  const fields = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return `differs in ${fields.join(', ') || 'key order'}`;
}
