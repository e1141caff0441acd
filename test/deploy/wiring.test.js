'use strict';
// The deploy files' wiring, run (wiring.js says how): docker-compose.yml as `docker-compose config` renders it
// and the gpu overlay as `kubectl kustomize` renders it, each started as local processes with the commands,
// arguments and environment the files give, every probe tried, Prometheus scraping with the rendered scrape
// configuration, and a NAS-Bench-201 table search run to completion. A wrong variable name, port, command or
// probe path in the files fails it. Needs the services built (npx tsc -b), redis-server, redis-cli,
// prometheus, docker-compose and kubectl; a missing one fails with how to install it.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, composeConfig, kustomize } = require('./render');
const { composeDeployment, kubernetesDeployment, runDeployment } = require('./wiring');

const TABLE = path.resolve(ROOT, '..', 'shared', 'benchmarks', 'nas-bench-201.csv');
const EXPERIMENT = { space: 'nb201', tablePath: TABLE, budgetArchs: 24, childrenPerStep: 4 };

/** What every run must show: the whole budget evaluated once, by the deployment's own workers, every step applied by both replicas' steps, clean exits. */
function assertRun(run, deployment) {
  const nasrl = run.procs.filter((p) => p.c.kind === 'nasrl');
  const { results, steps, applied } = run;
  assert.equal(results.length, EXPERIMENT.budgetArchs, 'the whole budget was evaluated');
  assert.equal(new Set(results.map((r) => r.childId)).size, EXPERIMENT.budgetArchs, 'each architecture once');
  steps.forEach((s, i) => assert.equal(applied[i], true, `step ${s} applied`));
  const controllers = nasrl.filter((p) => p.c.args[0] === 'controller');
  const replicas = new Set(results.map((r) => r.replica));
  assert.equal(replicas.size, controllers.length, `every controller replica sampled steps (replicas seen: ${[...replicas].join(', ')})`);
  const workerIds = new Set(nasrl.filter((p) => p.c.args[0] === 'worker').map((p) => p.env.NASRL_WORKER_ID));
  for (const w of run.workers) assert.ok(workerIds.has(w), `results come from the deployment's workers, not ${w}`);
  for (const p of run.procs) assert.equal(p.stoppedWith, 0, `${p.c.name} exits with 0 on SIGTERM, got ${p.stoppedWith}`);
  const kinds = nasrl.map((p) => p.c.args[0]);
  for (const kind of ['param-server', 'controller', 'worker']) assert.ok(kinds.includes(kind), `${deployment}: runs a ${kind}`);
}

test('docker-compose.yml, run: every nasrl service as the file starts it, healthchecks, Prometheus targets up, a table search to completion', { timeout: 240_000 }, async (t) => {
  assert.ok(fs.existsSync(TABLE), `the NAS-Bench-201 table is missing at ${TABLE}`);
  const d = composeDeployment(composeConfig(), { experiment: EXPERIMENT });
  const run = await runDeployment(d, { experiment: EXPERIMENT, onDiagnostic: (m) => t.diagnostic(m) });
  t.diagnostic(`ms: ${JSON.stringify(run.timing)}`);
  assertRun(run, 'docker-compose.yml');
  assert.equal(run.procs.filter((p) => p.c.kind === 'nasrl' && p.c.args[0] === 'worker').length, 8, 'eight GPU workers');
});

test('deploy/k8s/overlays/gpu, run: every pod as the manifests start it, readiness and liveness probes, Prometheus discovery, a table search to completion', { timeout: 240_000 }, async (t) => {
  assert.ok(fs.existsSync(TABLE), `the NAS-Bench-201 table is missing at ${TABLE}`);
  const d = kubernetesDeployment(kustomize('gpu'), { experiment: EXPERIMENT });
  const run = await runDeployment(d, { experiment: EXPERIMENT, onDiagnostic: (m) => t.diagnostic(m) });
  t.diagnostic(`ms: ${JSON.stringify(run.timing)}`);
  assertRun(run, 'overlay gpu');
  const probed = run.procs.flatMap((p) => p.c.probes.map((q) => `${p.c.kind === 'nasrl' ? p.c.args[0] : p.c.kind}:${q.name}:${q.type}`));
  for (const want of ['param-server:readiness:grpc', 'param-server:liveness:grpc', 'controller:readiness:http', 'controller:liveness:http', 'worker:readiness:http', 'worker:liveness:http', 'redis:readiness:exec', 'redis:liveness:tcp']) {
    assert.ok(probed.includes(want), `probe ${want} was tried`);
  }
});
