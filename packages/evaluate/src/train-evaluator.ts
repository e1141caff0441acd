import type { ConvArchitecture } from '@nasrl/spaces';
import type { ExperimentConfig } from '@nasrl/queue';
import type { Dataset } from '@nasrl/datasets';
import { runTraining, selectTrainingBackend } from './training';
import type { ChildToEvaluate, EvaluationContext, Evaluation, Evaluator } from './evaluator';
import { LmEvaluator } from './lm-evaluator';

/** How the train evaluator logs (backend choice, leaked tensors). */
export type TrainLog = (record: { event: string } & Record<string, unknown>) => void;

const datasets = new Map<string, Dataset>();

/**
 * Trains the children of an experiment whose evaluator is 'train': conv children with @nasrl/child on the
 * experiment's dataset, rnn-space children as language models (LmEvaluator), reporting progress after each
 * epoch. TensorFlow.js and the data are loaded on first use only, so a worker that only looks children up in
 * tables never loads them; the backend is chosen once per process and the data kept for later children.
 */
export class TrainEvaluator implements Evaluator {
  /** The evaluator of an rnn-space experiment; null for conv. */
  private readonly languageModels: LmEvaluator | null;

  constructor(
    private readonly config: ExperimentConfig,
    private readonly tfBackend: string,
    private readonly log: TrainLog,
    /**
     * Benchmarks only: the seed of the child's weights and shuffles (default 1), a test-split accuracy, and for
     * rnn experiments `lstm`: train the LSTM baseline in place of the child's cell.
     */
    private readonly extra: { seed?: number; test?: boolean; lstm?: boolean } = {},
  ) {
    this.languageModels = config.space === 'rnn' ? new LmEvaluator(config, tfBackend, log, extra) : null;
  }

  async evaluate(child: ChildToEvaluate, context: EvaluationContext): Promise<Evaluation & { testAccuracy?: number }> {
    if (this.languageModels !== null) return this.languageModels.evaluate(child, context);
    const { trainChild } = await import('@nasrl/child');
    await selectTrainingBackend(this.tfBackend, this.log);
    const data = await this.dataset();
    const t = this.config.training;
    const r = await runTraining(() => trainChild(child.arch as ConvArchitecture, data, {
      epochs: t.epochs, batchSize: t.batchSize, learningRate: t.learningRate, limits: { ...this.config.limits },
      ...(this.extra.seed !== undefined ? { seed: this.extra.seed } : {}), ...(this.extra.test === true ? { evaluateTest: true } : {}),
      ...(t.augment ? {} : { augment: false as const }),
    }, {
      onEpoch: (e) => void context.progress({ epoch: e.epoch, epochs: e.epochs, validationAccuracy: e.validationAccuracy }).catch(() => undefined),
      ...(context.signal ? { signal: context.signal } : {}),
    }), 'trainChild', this.log);
    // ChildResult has no room for throughput; the worker process reads it from this last progress report.
    const last = r.curve[r.curve.length - 1] ?? r.bestValidationAccuracy;
    await context.progress({ epoch: t.epochs, epochs: t.epochs, validationAccuracy: last, imagesPerSecond: r.imagesPerSecond }).catch(() => undefined);
    // The raw reward is the accuracy; the experiment shapes it (stepRewards), the trainer does not.
    return {
      reward: r.bestValidationAccuracy, accuracy: r.bestValidationAccuracy, curve: [...r.curve], seconds: r.seconds, parameters: r.parameters,
      ...(r.testAccuracy !== undefined ? { testAccuracy: r.testAccuracy } : {}),
    };
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
