import { Job, type FlowProducer, type Queue, type QueueEvents } from 'bullmq';
import { Rng } from '@nasrl/controller';
import { enqueueStep, stepJobId, type ChildJob, type ExperimentStore, type StepJob } from '@nasrl/queue';
import type { ParameterServerClient } from '@nasrl/ps';
import { retryTransient } from './retry';
import { depthFor, forShards, hashSeed, layersArg, type ExperimentRuntime } from './experiment';
import type { SampleObserver } from './observe';

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
  readonly onStep?: (info: { stepId: string; sampled: number; layers: number }) => void;
}

/** What a replica did before it stopped. */
export interface ReplicaSummary {
  readonly steps: number;
  readonly sampled: number;
}

/**
 * One controller replica (SPEC.md section 5): pull θ from every shard, sample m architectures, enqueue them
 * as one flow, wait until the step has been completed (by any replica's step processor), repeat until the
 * experiment's architecture budget is spent or `signal` aborts.
 */
export class ControllerReplica {
  constructor(private readonly o: ReplicaOptions) {}

  /** Runs steps until the budget is spent or the signal aborts. */
  async run(signal?: AbortSignal): Promise<ReplicaSummary> {
    const { config, space, policy } = this.o.runtime;
    const seed = this.o.seed ?? hashSeed(`sample:${config.id}`);
    // Every replica offers the same initial parameters; the shards keep the first and ignore the rest.
    await retryTransient(() => this.o.params.init(config.id, forShards(policy.parameters())), undefined, signal);
    let steps = 0;
    let sampled = 0;
    while (!signal?.aborted) {
      const { granted, sampledBefore } = await this.o.store.reserve(config.id, config.childrenPerStep);
      if (granted === 0) break;
      const stepNo = await this.o.store.nextStep(config.id, this.o.replica);
      const stepId = `r${this.o.replica}-s${stepNo}`;
      const { tensors, versions } = await retryTransient(() => this.o.params.pull(config.id), undefined, signal);
      policy.setParameters(tensors);
      const layers = depthFor(space, sampledBefore);
      const rng = new Rng(hashSeed(`${seed}:${this.o.replica}:${stepNo}`));
      const samples = policy.sample(granted, rng, layersArg(space, layers));
      this.o.metrics?.sampled(config.id, samples.map((s) => s.entropy));
      const archs = samples.map((s) => space.decode(s.tokens, layersArg(space, layers)));
      const step: StepJob = {
        experiment: config.id,
        stepId,
        replica: this.o.replica,
        layers,
        samples: samples.map((s, i) => ({ tokens: s.tokens, logProb: s.logProb, archKey: space.key(archs[i]) })),
        parameterVersions: versions,
      };
      const children: ChildJob[] = samples.map((s, index) => ({
        experiment: config.id,
        stepId,
        index,
        replica: this.o.replica,
        tokens: s.tokens,
        layers,
        archKey: space.key(archs[index]),
        arch: space.toJSON(archs[index]),
        parameterVersions: versions,
      }));
      await enqueueStep(this.o.flow, step, children);
      await this.waitForStep(stepJobId(config.id, stepId), signal);
      steps++;
      sampled += granted;
      this.o.onStep?.({ stepId, sampled: granted, layers });
    }
    return { steps, sampled };
  }

  private async waitForStep(parentId: string, signal?: AbortSignal): Promise<void> {
    const job = await Job.fromId(this.o.stepsQueue, parentId);
    if (!job) throw new Error(`step job ${parentId} vanished from the steps queue`);
    const finished = job.waitUntilFinished(this.o.stepsEvents);
    if (!signal) {
      await finished;
      return;
    }
    // On abort the step is left to the other replicas' (or this one's, after restart) step processors.
    await Promise.race([finished, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
  }
}
