import { readFileSync } from 'node:fs';
import { ConvSpace, Nb201Space, parseTableSpace, RnnSpace, SpaceFileError, type SearchSpace } from '@nasrl/spaces';
import type { ExperimentConfig } from './config';
import { RNN_EXPERIMENT_DEFAULTS } from './rnn-config';

/**
 * The search space of an experiment, as the controller samples it and the worker decodes it. A table space
 * is read from `tablePath` (throws SpaceFileError naming the file).
 */
export function createSpace(config: ExperimentConfig): SearchSpace {
  switch (config.space) {
    case 'conv':
      return new ConvSpace(config.spaceOptions) as SearchSpace;
    case 'nb201':
      return new Nb201Space() as SearchSpace;
    case 'rnn':
      return new RnnSpace({ base: (config.rnn ?? RNN_EXPERIMENT_DEFAULTS).base }) as SearchSpace;
    case 'table': {
      const file = config.tablePath ?? '';
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new SpaceFileError(file, `cannot read the table space file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      return parseTableSpace(text, file) as SearchSpace;
    }
  }
}
