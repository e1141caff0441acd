import { ControllerPolicy } from '@nasrl/controller';
import { createSpace, type ExperimentConfig } from '@nasrl/queue';
import { ConvSpace, type SearchSpace } from '@nasrl/spaces';

/** A 32-bit FNV-1a hash of text: stable seeds derived from experiment ids. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The space and controller policy of an experiment. Every replica builds the same initial parameters. */
export interface ExperimentRuntime {
  readonly config: ExperimentConfig;
  readonly space: SearchSpace;
  readonly policy: ControllerPolicy;
}

/** Builds the space and the policy an experiment's configuration describes. */
export function experimentRuntime(config: ExperimentConfig): ExperimentRuntime {
  const space = createSpace(config);
  const policy = new ControllerPolicy(space, { ...config.policy, initSeed: hashSeed(`init:${config.id}`) });
  return { config, space, policy };
}

/**
 * The runtimes of experiments by id, each built once per process from the configuration `load` returns; a
 * failed load (a transient Redis error, an experiment not created yet) is forgotten, so the next call for
 * that id loads again instead of failing for the life of the process. `known` are runtimes already built.
 */
export function runtimeCache(load: (id: string) => Promise<ExperimentConfig>, known: readonly ExperimentRuntime[] = []): (id: string) => Promise<ExperimentRuntime> {
  const runtimes = new Map<string, Promise<ExperimentRuntime>>(known.map((r) => [r.config.id, Promise.resolve(r)]));
  return (id) => {
    const cached = runtimes.get(id);
    if (cached) return cached;
    const loading = load(id).then(experimentRuntime);
    runtimes.set(id, loading);
    loading.catch(() => {
      if (runtimes.get(id) === loading) runtimes.delete(id);
    });
    return loading;
  };
}

/** The depth to sample at after `sampledBefore` architectures (the conv space's schedule; 1 elsewhere). */
export function depthFor(space: SearchSpace, sampledBefore: number): number {
  return space instanceof ConvSpace ? space.depthAfter(sampledBefore) : 1;
}

/** The `layers` argument of the policy for a depth: only the conv space's decisions depend on it. */
export function layersArg(space: SearchSpace, layers: number): number | undefined {
  return space instanceof ConvSpace ? layers : undefined;
}

/** Named tensors in the parameter-server client's (mutable-shape) form. */
export function forShards(tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[]): { name: string; shape: number[]; data: Float32Array }[] {
  return tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: t.data }));
}
