import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from '@nasrl/queue';
import { repoRoot } from '@nasrl/supervisor';

const TABLE = path.resolve(repoRoot(), '..', 'shared', 'benchmarks', 'nas-bench-201.csv');
const DASHBOARDS = path.join(repoRoot(), 'deploy', 'grafana', 'dashboards');

function tool(name: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${name} is required: apt-get install prometheus`);
  return r.stdout.trim();
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every PromQL expression of every provisioned dashboard. */
function dashboardQueries(): { dashboard: string; title: string; expr: string }[] {
  const out: { dashboard: string; title: string; expr: string }[] = [];
  for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))) {
    const d = JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8')) as { panels?: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[] };
    const walk = (panels: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]): void => {
      for (const p of panels) {
        for (const t of p.targets ?? []) if (t.expr) out.push({ dashboard: file, title: p.title ?? '', expr: t.expr });
        if (Array.isArray(p.panels)) walk(p.panels as typeof panels);
      }
    };
    walk(d.panels ?? []);
  }
  return out;
}

test('a real Prometheus scraping a local run answers every dashboard query with data; promtool accepts config and metrics', { timeout: 300_000 }, async () => {
  const prometheus = tool('prometheus');
  const promtool = tool('promtool');
  assert.ok(existsSync(TABLE), `the NAS-Bench-201 table is expected at ${TABLE}`);
  // The run is an nb201 search: the queries over metrics that only rnn experiments record have no data here
  // (the metrics tests check what records them, the deploy test that their names are on the contract).
  const { RNN_ONLY_METRICS } = require(path.join(repoRoot(), 'deploy', 'grafana', 'generate-dashboards.js')) as { RNN_ONLY_METRICS: string[] };
  const queries = dashboardQueries().filter((q) => !RNN_ONLY_METRICS.some((m) => q.expr.includes(m)));
  assert.ok(queries.length > 20, `${queries.length} dashboard queries to ask`);
  assert.ok(queries.length >= 20, `dashboards hold ${queries.length} queries`);
  const out = mkdtempSync(path.join(tmpdir(), 'nasrl-prom-'));
  const id = 'prom-e2e';
  // Children take about a second each (12/200 of their simulated training time × 0.01), so the run lasts long
  // enough for rates over a few scrapes.
  const local: ChildProcess = spawn(process.execPath, [path.join(repoRoot(), 'packages/cli/bin/nasrl.js'), 'local', '--space', 'nb201', '--table', TABLE,
    '--shards', '2', '--replicas', '2', '--children', '4', '--workers', '3', '--budget-archs', '2000', '--time-scale', '0.01', '--out', out, '--id', id], {
    cwd: repoRoot(), env: { ...process.env, REDIS_URL: '' }, stdio: 'ignore',
  });
  let prom: ChildProcess | undefined;
  try {
    const config = path.join(out, 'prometheus.yml');
    await until('prometheus.yml with all three jobs', 90_000, () => {
      if (!existsSync(config)) return undefined;
      const text = readFileSync(config, 'utf8');
      return ['param-server', 'controller', 'worker'].every((j) => text.includes(`job_name: ${j}`)) && (text.match(/127\.0\.0\.1:\d+/g) ?? []).length >= 7 ? text : undefined;
    });
    const check = spawnSync(promtool, ['check', 'config', config], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const port = await freePort();
    prom = spawn(prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(out, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (expr: string): Promise<unknown[]> => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; data?: { result: unknown[] }; error?: string };
      assert.equal(body.status, 'success', `${expr}: ${body.error}`);
      return body.data?.result ?? [];
    };
    await until('Prometheus to answer', 60_000, async () => ((await fetch(`${api}/status/buildinfo`).catch(() => undefined))?.ok ? true : undefined));
    // Wait until every target is up and has been scraped for a while.
    await until('every target up', 60_000, async () => ((await query('count(up == 1)')) as { value: [number, string] }[])[0]?.value[1] === '7' ? true : undefined);
    await new Promise((r) => setTimeout(r, 12_000));
    const empty: string[] = [];
    for (const q of queries) {
      const expr = q.expr.replaceAll('$experiment', id).replaceAll('$__rate_interval', '10s').replaceAll('$__interval', '5s');
      if ((await query(expr)).length === 0) empty.push(`${q.dashboard} / ${q.title}: ${q.expr}`);
    }
    assert.deepEqual(empty, [], 'every dashboard query returns data');
    // promtool check metrics on each service's exposition (prom-client's nodejs_active_*_total gauges are its own naming).
    const targets = [...readFileSync(config, 'utf8').matchAll(/127\.0\.0\.1:\d+/g)].map((m) => m[0]);
    for (const target of targets) {
      const text = await (await fetch(`http://${target}/metrics`)).text();
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const problems = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '' && !/^nodejs_active_(handles|requests|resources)_total /.test(l));
      assert.deepEqual(problems, [], `promtool check metrics on ${target}`);
    }
  } finally {
    prom?.kill('SIGKILL');
    local.kill('SIGINT');
    await new Promise((r) => local.once('exit', r));
    rmSync(out, { recursive: true, force: true });
  }
});
