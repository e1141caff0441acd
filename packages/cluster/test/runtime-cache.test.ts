import assert from 'node:assert/strict';
import { test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import { parseExperimentConfig, type ExperimentConfig } from '@nasrl/queue';
import { runtimeCache } from '../src/index';

test('runtimeCache builds a runtime once per experiment and forgets a failed lookup', async () => {
  const config = parseExperimentConfig({ id: 'rc', space: 'nb201', tablePath: '/unused.csv' });
  let calls = 0;
  const load = async (id: string): Promise<ExperimentConfig> => {
    calls++;
    if (calls === 1) throw new Error('Connection is closed.');
    return { ...config, id };
  };
  const runtimeFor = runtimeCache(load);
  await assert.rejects(runtimeFor('rc'), /Connection is closed/);
  const first = await runtimeFor('rc');
  assert.equal(first.config.id, 'rc', 'the lookup after a failure tries again');
  assert.equal(await runtimeFor('rc'), first, 'a built runtime is kept');
  assert.equal(calls, 2);
});
