import type { ConvArchitecture } from '@nasrl/spaces';
import { EvaluationRefusedError, type ExperimentConfig } from '@nasrl/queue';
import type { TrainResult } from '@nasrl/child';
import type { Dataset } from '@nasrl/datasets';
import { EvaluationCancelledError, type ChildToEvaluate, type EvaluationContext, type Evaluation, type Evaluator } from './evaluator';

/** How the train evaluator logs (backend choice, leaked tensors). */
export type TrainLog = (record: { event: string } & Record<string, unknown>) => void;

let backend: Promise<string> | null = null;
const datasets = new Map<string, Dataset>();

/**
 * Trains children with @nasrl/child on the experiment's dataset, reporting progress after each epoch.
 * TensorFlow.js and the dataset are loaded on first use only, so a worker that only looks children up in
 * tables never loads them; the backend is chosen once per process and the dataset kept for later children.
 */
export class TrainEvaluator implements Evaluator {
  constructor(
    private readonly config: ExperimentConfig,
    private readonly tfBackend: string,
    private readonly log: TrainLog,
    /** Benchmarks only: the seed of the child's weights and shuffles (default 1), and a test-split accuracy. */
    private readonly extra: { seed?: number; test?: boolean } = {},
  ) {}

  async evaluate(child: ChildToEvaluate, context: EvaluationContext): Promise<Evaluation & { testAccuracy?: number }> {
    const { trainChild, expectNoLeakedTensors, ArchitectureTooLargeError, TrainingCancelledError } = await import('@nasrl/child');
    await this.selectBackend();
    const data = await this.dataset();
    const t = this.config.training;
    let result: TrainResult | undefined;
    try {
      await expectNoLeakedTensors(async () => {
        result = await trainChild(child.arch as ConvArchitecture, data, {
          epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate, limits: { ...this.config.limits },
          ...(this.extra.seed !== undefined ? { seed: this.extra.seed } : {}), ...(this.extra.test === true ? { evaluateTest: true } : {}),
          ...(t.augment ? {} : { augment: false as const }),
        }, {
          onEpoch: (e) => void context.progress({ epoch: e.epoch, epochs: e.epochs, validationAccuracy: e.validationAccuracy }).catch(() => undefined),
          ...(context.signal ? { signal: context.signal } : {}),
        });
      }, 'trainChild');
    } catch (err) {
      if (err instanceof ArchitectureTooLargeError) throw new EvaluationRefusedError(err.message);
      if (err instanceof TrainingCancelledError) throw new EvaluationCancelledError();
      // A leak found after a finished training: keep the result, say so loudly.
      if (result === undefined) throw err;
      this.log({ event: 'tensor_leak', level: 'error', message: (err as Error).message });
    }
    const r = result as TrainResult;
    // ChildResult has no room for throughput; the worker process reads it from this last progress report.
    const last = r.curve[r.curve.length - 1] ?? r.bestValidationAccuracy;
    await context.progress({ epoch: t.epochs, epochs: t.epochs, validationAccuracy: last, imagesPerSecond: r.imagesPerSecond }).catch(() => undefined);
    return {
      reward: r.reward, accuracy: r.bestValidationAccuracy, curve: [...r.curve], seconds: r.seconds, parameters: r.parameters,
      ...(r.testAccuracy !== undefined ? { testAccuracy: r.testAccuracy } : {}),
    };
  }

  private selectBackend(): Promise<string> {
    backend ??= (async () => {
      const tf = await import('@nasrl/tf');
      const chosen = await tf.selectBackend(tf.parseBackendPreference(this.tfBackend), { log: (line) => this.log({ event: 'tf_backend', message: line }) });
      return chosen.name;
    })();
    // A failed choice is not remembered: the next child tries again.
    backend.catch(() => (backend = null));
    return backend;
  }

  private async dataset(): Promise<Dataset> {
    const t = this.config.training;
    const test = this.extra.test === true;
    const key = JSON.stringify([t.dataset, t.dataDir, t.subset, t.validationSubset, test]);
    let data = datasets.get(key);
    if (data === undefined) {
      const { loadDataset } = await import('@nasrl/datasets');
      data = loadDataset({
        name: t.dataset, ...(t.dataDir !== null ? { dataDir: t.dataDir } : {}), ...(t.subset !== null ? { subset: t.subset } : {}),
        ...(t.validationSubset !== null ? { validationSubset: t.validationSubset } : {}), ...(test ? { test: true } : {}),
      });
      datasets.set(key, data);
    }
    return data;
  }
}
