import { UsageError } from './args';
import { benchSearchCommand, BENCH_SEARCH_USAGE } from './commands/bench-search';

type Command = (argv: string[]) => Promise<number>;

/** A subcommand: its words, the synopsis and line `nasrl --help` shows, and how to run it. */
interface CommandEntry {
  readonly name: string;
  readonly synopsis: string;
  readonly summary: string;
  readonly run: Command;
}

/** Command modules load only when run, so that `nasrl bench nb201` does not load the child trainer. */
const COMMANDS: readonly CommandEntry[] = [
  { name: 'bench nb201', synopsis: '[...]', summary: 'search strategies on NAS-Bench-201 under the published protocol', run: (argv) => benchSearchCommand('nb201', argv) },
  { name: 'bench table', synopsis: '[...]', summary: 'the same on a table space file, with a budget in evaluations', run: (argv) => benchSearchCommand('table', argv) },
  { name: 'bench train', synopsis: '[...]', summary: 'training throughput of the reference child on each backend', run: async (argv) => (await import('./commands/train')).benchTrainCommand(argv) },
  { name: 'bench proxy', synopsis: '[...]', summary: 'does the short child training rank architectures as a longer one does?', run: async (argv) => (await import('./commands/bench-proxy')).benchProxyCommand(argv) },
  { name: 'bench search', synopsis: '[...]', summary: 'REINFORCE against random search on real training, seeds each, equal budget', run: async (argv) => (await import('./commands/bench-real-search')).benchRealSearchCommand(argv) },
  { name: 'bench async', synopsis: '[...]', summary: 'what K asynchronous replicas do to REINFORCE on NAS-Bench-201: quality and staleness over seeds', run: async (argv) => (await import('./commands/bench-async')).benchAsyncCommand(argv) },
  { name: 'bench cluster', synopsis: '[...]', summary: 'orchestration overhead, architectures/s and worker utilisation of a local cluster', run: async (argv) => (await import('./commands/bench-cluster')).benchClusterCommand(argv) },
  { name: 'train-arch', synopsis: 'ARCH [...]', summary: 'train one architecture; its validation and held-out test accuracy', run: async (argv) => (await import('./commands/train')).trainArchCommand(argv) },
  { name: 'local', synopsis: '[...]', summary: 'the whole cluster on this machine', run: async (argv) => (await import('./commands/local')).localCommand(argv) },
  { name: 'simulate', synopsis: '[...]', summary: "the paper's 20 shards, 100 replicas and 800 workers with simulated children, and what they cost", run: async (argv) => (await import('./commands/simulate')).simulateCommand(argv) },
  { name: 'status', synopsis: '[ID]', summary: "experiments, or one experiment's progress and queues (--queue-prefix P)", run: async (argv) => (await import('./commands/inspect')).statusCommand(argv) },
  { name: 'top', synopsis: '-k N ID', summary: 'the N best architectures of an experiment', run: async (argv) => (await import('./commands/inspect')).topCommand(argv) },
  { name: 'stop', synopsis: 'ID', summary: 'stop an experiment: no more steps, its children cancelled', run: async (argv) => (await import('./commands/inspect')).stopCommand(argv) },
  { name: 'export', synopsis: 'ID --out DIR', summary: 'results.jsonl and best.json of an experiment', run: async (argv) => (await import('./commands/inspect')).exportCommand(argv) },
];

function usage(): string {
  const heads = COMMANDS.map((c) => `nasrl ${c.name} ${c.synopsis}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  const lines = COMMANDS.map((c, i) => `  ${(heads[i] as string).padEnd(width)}${c.summary}`);
  return `nasrl: neural architecture search with reinforcement learning

Commands (\`nasrl COMMAND --help\` or \`nasrl help COMMAND\` for a command's options):
${lines.join('\n')}

${BENCH_SEARCH_USAGE}`;
}

/** The command that `argv` starts with (two words before one) and the arguments after its name. */
function find(argv: readonly string[]): { command: CommandEntry; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command !== undefined && argv.length >= words) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    // `nasrl help COMMAND` is `nasrl COMMAND --help`.
    const asked = first === 'help' && argv.length > 1 ? find(argv.slice(1)) : undefined;
    if (asked !== undefined) return asked.command.run(['--help']);
    if (first === 'help' && argv.length > 1) {
      console.error(`nasrl: unknown command ${JSON.stringify(argv.slice(1).join(' '))}\n`);
      console.error(usage());
      return 2;
    }
    console.log(usage());
    return first === undefined ? 2 : 0;
  }
  const found = find(argv);
  if (found === undefined) {
    console.error(`nasrl: unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}\n`);
    console.error(usage());
    return 2;
  }
  return found.command.run(found.rest);
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
