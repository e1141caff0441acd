import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// prom-client's own default gauges nodejs_active_{handles,requests,resources}_total break a naming lint; ours must not.
const DEFAULT_METRIC_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

/**
 * For tests: runs `promtool check metrics` on a scrape and fails on any problem but prom-client's own default
 * gauges' naming; fails, too, when promtool is not on PATH (CI installs it), so the check is never skipped.
 */
export function promtoolCheck(body: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('promtool is not on PATH: install it (apt-get install -y prometheus) to run this check');
  }
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !DEFAULT_METRIC_LINT.test(l));
  assert.deepEqual(problems, [], `promtool check metrics failed (status ${r.status})`);
}
