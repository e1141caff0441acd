import { EvaluationRefusedError, type ExperimentConfig } from '@nasrl/queue';
import { Nb201Table, TableBenchmark, type TabularBenchmark } from '@nasrl/search';
import { sleep, type ChildToEvaluate, type EvaluationContext, type Evaluation, type Evaluator } from './evaluator';

/**
 * Looks children up in a table (NAS-Bench-201's CSV, or a table space file) and simulates their training time:
 * it sleeps cost × timeScale seconds for real, so that a cluster run on a table behaves like one that trains.
 */
export class TableEvaluator implements Evaluator {
  constructor(
    private readonly bench: TabularBenchmark,
    private readonly timeScale: number,
    private readonly describe: string,
    /** Simulated seconds of an entry when the table gives them (table spaces' `seconds`); else the benchmark's cost. */
    private readonly secondsOf: (tokens: readonly number[]) => number | undefined = () => undefined,
  ) {}

  /** The table evaluator of an experiment (space nb201 or table); reads the table file. */
  static forConfig(config: ExperimentConfig): TableEvaluator {
    const file = config.tablePath ?? '';
    if (config.space === 'nb201') return new TableEvaluator(Nb201Table.load(file), config.timeScale, file);
    const bench = TableBenchmark.load(file, config.budgetArchs);
    return new TableEvaluator(bench, config.timeScale, file, (tokens) => bench.space.lookup(tokens)?.seconds);
  }

  async evaluate(child: ChildToEvaluate, context: EvaluationContext): Promise<Evaluation> {
    const row = this.bench.evaluate(child.tokens);
    if (row === undefined) throw new EvaluationRefusedError(`architecture [${child.tokens.join(',')}] is not in the table ${this.describe}`);
    const seconds = (this.secondsOf(child.tokens) ?? row.cost) * this.timeScale;
    if (seconds > 0) await sleep(seconds * 1000, context.signal);
    // No progress report: it would say what the result says a moment later, and costs Redis five commands
    // per child (a fifteenth of a simulated child's; nasrl simulate measures them).
    return { reward: row.reward, accuracy: row.reward, curve: [row.reward], seconds, parameters: row.parameters ?? 0 };
  }
}
