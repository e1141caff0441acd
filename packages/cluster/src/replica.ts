import { Job, type FlowProducer, type Queue, type QueueEvents } from 'bullmq';
import { Rng } from '@nasrl/controller';
import { enqueueStep, stepJobId, type ChildJob, type ExperimentStore, type Reservation, type StepJob } from '@nasrl/queue';
import type { ParameterServerClient } from '@nasrl/ps';
import { retryTransient } from './retry';
import { depthFor, forShards, hashSeed, layersArg, type ExperimentRuntime } from './experiment';
import type { SampleObserver } from './observe';
import { decodeStepParameters, encodeStepParameters } from './step-parameters';
import type { StepLog } from './step-processor';
import { waitForStep } from './step-wait';

/** How long a step's sampling parameters are kept if its step never completes (as long as failed jobs). */
export const STEP_PARAMETERS_TTL_SECONDS = 7 * 24 * 3600;

/** Dependencies and settings of a controller replica. */
export interface ReplicaOptions {
  readonly runtime: ExperimentRuntime;
  readonly replica: number;
  readonly store: ExperimentStore;
  readonly params: ParameterServerClient;
  readonly flow: FlowProducer;
  readonly stepsQueue: Queue;
  readonly stepsEvents: QueueEvents;
  /** Seed of the replica's sampling; step n of replica r samples with a generator derived from (seed, r, n). Default: from the experiment id. */
  readonly seed?: number;
  /** Told about each sampled batch (count, entropies), for metrics. Default: none. */
  readonly metrics?: SampleObserver;
  /** Called after each finished step. */
  readonly onStep?: (info: { stepId: string; sampled: number; layers: number; claimed: boolean }) => void;
  /**
   * A reservation another replica has held this long without enqueuing its step is taken over (that replica
   * died between reserving and enqueuing). Reserving, pulling θ and sampling take well under a second, so
   * the default leaves a wide margin. Default 60,000 ms.
   */
  readonly reservationStaleMs?: number;
  /** How often a replica with nothing to reserve looks again while other replicas hold reservations. Default 1,000 ms. */
  readonly pollMs?: number;
  /**
   * Times the replica puts its step back to be processed again when the step job fails (BullMQ fails a step
   * whose lock was lost too often on a busy machine as stalled) before it gives the step up and goes on. Default 3.
   */
  readonly failedStepRetries?: number;
  /** Where a failed or given-up step is reported (level warn). Default: nowhere. */
  readonly log?: StepLog;
  /**
   * Offers the initial parameters to the shards. Replicas hosted by one process share one (initOnce), so that
   * a hundred replicas starting together send the shards one offer per process, not one each. Default: this
   * replica's own offer.
   */
  readonly init?: () => Promise<void>;
}

/**
 * The initial offer of an experiment's parameters to the shards, made once however often it is called; a
 * failed offer is forgotten, so the next call tries again.
 */
export function initOnce(runtime: ExperimentRuntime, params: ParameterServerClient, signal?: AbortSignal): () => Promise<void> {
  let offered: Promise<void> | null = null;
  return () => {
    offered ??= retryTransient(() => params.init(runtime.config.id, forShards(runtime.policy.parameters()), { learningRate: runtime.config.learningRate }), undefined, signal)
      .then(() => undefined);
    offered.catch(() => (offered = null));
    return offered;
  };
}

/** What a replica did before it stopped. */
export interface ReplicaSummary {
  readonly steps: number;
  readonly sampled: number;
  /** True when the replica ended because the experiment was stopped (`nasrl stop`), not because the budget was spent. */
  readonly stopped: boolean;
}

/**
 * One controller replica (SPEC.md section 5): pull θ from every shard, sample m architectures, enqueue them
 * as one flow, wait until the step has been completed (by any replica's step processor), repeat until the
 * experiment's architecture budget is spent or `signal` aborts.
 *
 * Architectures are reserved from the budget before sampling and the reservation is released once the flow
 * is enqueued. A reservation left behind by a replica that died in between is driven to completion by the
 * same replica when it restarts, or by any replica once it is stale, under the step id it was made for, so
 * the budget is spent exactly even when replicas die.
 */
export class ControllerReplica {
  constructor(private readonly o: ReplicaOptions) {}

  /**
   * Runs steps until the budget is spent (and no other replica holds a reservation), the experiment is stopped
   * (`nasrl stop`) or the signal aborts.
   */
  async run(signal?: AbortSignal): Promise<ReplicaSummary> {
    const { config } = this.o.runtime;
    const staleMs = this.o.reservationStaleMs ?? 60_000;
    // Every replica (or process of replicas) offers the same initial parameters; the shards keep the first and
    // ignore the rest. The experiment's learning rate travels with them: the shards apply its pushes with it.
    await (this.o.init ?? initOnce(this.o.runtime, this.o.params, signal))();
    let steps = 0;
    let sampled = 0;
    let stopped = false;
    // The steps this replica drives now: a lane must not claim another lane's reservation as one left behind.
    const driving = new Set<string>();
    // Lanes take their reservations one at a time, so that a claim always knows every reservation made before it.
    let turn: Promise<unknown> = Promise.resolve();
    const next = (): Promise<{ reservation: Reservation | null; claimed: boolean }> => {
      const got = turn.then(async () => {
        const claimed = await this.o.store.claimReservation(config.id, this.o.replica, staleMs, driving);
        const reservation = claimed ?? (await this.o.store.reserve(config.id, this.o.replica, config.childrenPerStep));
        if (reservation) driving.add(reservation.stepId);
        return { reservation, claimed: claimed !== null };
      });
      turn = got.catch(() => undefined);
      return got;
    };
    // Each lane is the paper's loop (reserve, sample, enqueue, wait for the step); stepsInFlight lanes overlap.
    const lane = async (): Promise<void> => {
      while (!signal?.aborted && !stopped) {
        if (await this.o.store.isStopped(config.id)) {
          stopped = true;
          break;
        }
        const { reservation, claimed } = await next();
        if (!reservation) {
          // The budget is spent; a replica that died holding a reservation may still leave one to take over.
          if ((await this.o.store.outstandingReservations(config.id)).every((stepId) => driving.has(stepId))) break;
          await sleep(this.o.pollMs ?? 1_000, signal);
          continue;
        }
        try {
          const layers = await this.drive(reservation, claimed, signal);
          steps++;
          sampled += reservation.granted;
          this.o.onStep?.({ stepId: reservation.stepId, sampled: reservation.granted, layers, claimed });
        } finally {
          driving.delete(reservation.stepId);
        }
      }
    };
    await Promise.all(Array.from({ length: config.stepsInFlight }, lane));
    return { steps, sampled, stopped };
  }

  // Samples the reservation's architectures, enqueues its step unless that already happened (possible only for
  // a claimed reservation), releases the reservation and waits for the step. Returns the step's layer count.
  private async drive(r: Reservation, claimed: boolean, signal?: AbortSignal): Promise<number> {
    const { config, space, policy } = this.o.runtime;
    const layers = depthFor(space, r.sampledBefore);
    const parentId = stepJobId(config.id, r.stepId);
    // A claimed reservation's replica may have enqueued the step before dying, or the step may even be done.
    if (claimed && (await this.o.store.isStepApplied(config.id, r.stepId))) {
      await this.o.store.releaseReservation(config.id, r.stepId);
      return layers;
    }
    if (!claimed || !(await Job.fromId(this.o.stepsQueue, parentId))) {
      const seed = this.o.seed ?? hashSeed(`sample:${config.id}`);
      const pulled = await retryTransient(() => this.o.params.pull(config.id), undefined, signal);
      // The parameters the step samples from are stored with it: its gradient is computed at them, and a
      // replica that takes the step over samples from them too, so both would enqueue the same flow.
      const mine = encodeStepParameters(pulled);
      const stored = await this.o.store.saveStepParameters(config.id, r.stepId, mine, STEP_PARAMETERS_TTL_SECONDS);
      const { tensors, versions } = stored === mine ? pulled : decodeStepParameters(stored);
      policy.setParameters(tensors);
      const rng = new Rng(hashSeed(`${seed}:${r.replica}:${r.stepNo}`));
      const samples = policy.sample(r.granted, rng, layersArg(space, layers));
      this.o.metrics?.sampled(config.id, samples.map((s) => s.entropy));
      const archs = samples.map((s) => space.decode(s.tokens, layersArg(space, layers)));
      const step: StepJob = {
        experiment: config.id,
        stepId: r.stepId,
        replica: r.replica,
        layers,
        samples: samples.map((s, i) => ({ tokens: s.tokens, logProb: s.logProb, archKey: space.key(archs[i]) })),
        parameterVersions: [...versions],
      };
      const children: ChildJob[] = samples.map((s, index) => ({
        experiment: config.id,
        stepId: r.stepId,
        index,
        replica: r.replica,
        tokens: s.tokens,
        layers,
        archKey: space.key(archs[index]),
        arch: space.toJSON(archs[index]),
        parameterVersions: [...versions],
      }));
      // Job ids are deterministic: if the step's first owner enqueues it too (it was only slow), one flow wins.
      await enqueueStep(this.o.flow, step, children);
    }
    await this.o.store.releaseReservation(config.id, r.stepId);
    await waitForStep(parentId, { stepsQueue: this.o.stepsQueue, stepsEvents: this.o.stepsEvents, retries: this.o.failedStepRetries ?? 3, ...(this.o.log ? { log: this.o.log } : {}) }, signal);
    return layers;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
