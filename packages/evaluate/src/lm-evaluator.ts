import type { Corpus } from '@nasrl/corpus';
import type { LmCell } from '@nasrl/child';
import type { ExperimentConfig, ExperimentRnnOptions } from '@nasrl/queue';
import { RnnSpace } from '@nasrl/spaces';
import { runTraining, selectTrainingBackend } from './training';
import type { ChildToEvaluate, EvaluationContext, Evaluation, Evaluator } from './evaluator';
import type { TrainLog } from './train-evaluator';

const corpora = new Map<string, Corpus>();

/** 1 / perplexity: the geometric mean probability of the right next token, 0 for a perplexity that is not finite. */
export function perplexityAccuracy(perplexity: number): number {
  return Number.isFinite(perplexity) && perplexity >= 1 ? 1 / perplexity : 0;
}

/**
 * Trains the language-model children of an rnn-space experiment (@nasrl/child trainLanguageModel) on the
 * experiment's corpus, reporting 1 / validation perplexity after each epoch. The reward is c / perplexity²;
 * the accuracy is 1 / perplexity and the result carries the perplexity itself. TensorFlow.js and the corpus
 * are loaded on first use and kept for later children of the process.
 */
export class LmEvaluator implements Evaluator {
  private readonly rnn: ExperimentRnnOptions;

  constructor(
    private readonly config: ExperimentConfig,
    private readonly tfBackend: string,
    private readonly log: TrainLog,
    /**
     * Benchmarks only: the seed of the child's weights and dropout masks (default 1), a test-split perplexity,
     * and `lstm`: train the LSTM baseline in place of the child's cell (the child's tokens are then ignored).
     */
    private readonly extra: { seed?: number; test?: boolean; lstm?: boolean } = {},
  ) {
    if (config.space !== 'rnn' || config.rnn === null) throw new Error(`LmEvaluator: experiment ${config.id} has space "${config.space}"; it trains rnn-space children only`);
    this.rnn = config.rnn;
  }

  async evaluate(child: ChildToEvaluate, context: EvaluationContext): Promise<Evaluation & { testPerplexity?: number }> {
    const { trainLanguageModel } = await import('@nasrl/child');
    await selectTrainingBackend(this.tfBackend, this.log);
    const corpus = await this.corpus();
    const r = this.rnn;
    // The tokens are authoritative (the worker checked them against the space); `arch` is their description.
    const cell: LmCell = this.extra.lstm === true ? { kind: 'lstm' } : { kind: 'rnn', cell: new RnnSpace({ base: r.base }).decode(child.tokens) };
    const t = await runTraining(() => trainLanguageModel(cell, corpus, {
      layers: r.layers, hiddenSize: r.hiddenSize, epochs: r.epochs, batchSize: r.batchSize, steps: r.steps, learningRate: r.learningRate,
      dropout: r.dropout, trainTokens: r.trainTokens, evaluationTokens: r.evaluationTokens, rewardConstant: r.rewardConstant,
      maxParameters: this.config.limits.maxParameters, seed: this.extra.seed ?? 1, evaluateTest: this.extra.test === true,
    }, {
      onEpoch: (e) => void context.progress({ epoch: e.epoch, epochs: e.epochs, validationAccuracy: perplexityAccuracy(e.validationPerplexity) }).catch(() => undefined),
      ...(context.signal ? { signal: context.signal } : {}),
    }), 'trainLanguageModel', this.log);
    return {
      reward: t.reward, accuracy: perplexityAccuracy(t.validationPerplexity), curve: t.curve.map(perplexityAccuracy),
      ...(Number.isFinite(t.validationPerplexity) ? { perplexity: t.validationPerplexity } : {}),
      seconds: t.seconds, parameters: t.parameters,
      ...(t.testPerplexity !== undefined && Number.isFinite(t.testPerplexity) ? { testPerplexity: t.testPerplexity } : {}),
    };
  }

  private async corpus(): Promise<Corpus> {
    const r = this.rnn;
    const key = JSON.stringify([r.corpus, r.dataDir, r.level, r.level === 'word' ? r.maxWords : null]);
    let corpus = corpora.get(key);
    if (corpus === undefined) {
      const { loadCorpus } = await import('@nasrl/corpus');
      corpus = loadCorpus({ name: r.corpus, level: r.level, maxWords: r.maxWords, ...(r.dataDir !== null ? { dataDir: r.dataDir } : {}) });
      corpora.set(key, corpus);
    }
    return corpus;
  }
}
