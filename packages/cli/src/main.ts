import { UsageError } from './args';
import { benchSearchCommand, BENCH_SEARCH_USAGE } from './commands/bench-search';

const USAGE = `nasrl: neural architecture search with reinforcement learning

Commands:
  nasrl bench nb201 [...]        search strategies on NAS-Bench-201 under the published protocol
  nasrl bench table [...]        the same on a table space file, with a budget in evaluations
  nasrl bench train [...]        training throughput of the reference child on each backend
  nasrl bench cluster [...]      orchestration overhead, architectures/s and worker utilisation of a local cluster
  nasrl train-arch ARCH.json     train one architecture and print its curve and reward
  nasrl local [...]              the whole cluster on this machine (nasrl local --help)
  nasrl status [ID]              experiments, or one experiment's progress and queues (--queue-prefix P)
  nasrl top -k N ID              the N best architectures of an experiment
  nasrl export ID --out DIR      results.jsonl and best.json of an experiment

${BENCH_SEARCH_USAGE}`;

type Command = (argv: string[]) => Promise<number>;

/** Loads a command module only when it is run, so that `nasrl bench nb201` does not load the child trainer. */
function commands(): Record<string, Command> {
  return {
    'bench nb201': (argv) => benchSearchCommand('nb201', argv),
    'bench table': (argv) => benchSearchCommand('table', argv),
    'bench cluster': async (argv) => (await import('./commands/bench-cluster')).benchClusterCommand(argv),
    'bench train': async (argv) => (await import('./commands/train')).benchTrainCommand(argv),
    'train-arch': async (argv) => (await import('./commands/train')).trainArchCommand(argv),
    local: async (argv) => (await import('./commands/local')).localCommand(argv),
    status: async (argv) => (await import('./commands/inspect')).statusCommand(argv),
    top: async (argv) => (await import('./commands/inspect')).topCommand(argv),
    export: async (argv) => (await import('./commands/inspect')).exportCommand(argv),
  };
}

async function main(argv: string[]): Promise<number> {
  const table = commands();
  const two = argv.slice(0, 2).join(' ');
  const one = argv[0] ?? '';
  const run = table[two] ?? table[one];
  if (!run || one === '--help' || one === 'help') {
    console.log(USAGE);
    return run || one === '--help' || one === 'help' ? 0 : 2;
  }
  return run(argv.slice(table[two] ? 2 : 1));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`nasrl: ${err.message}\nRun \`nasrl --help\` for usage.`);
      process.exitCode = 2;
    } else {
      console.error(`nasrl: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  },
);
