'use strict';
// Runs what a rendered deployment describes (test/deploy/wiring.test.js): every nasrl container as a local
// process with the command, arguments and environment its file gives it, Redis as redis-server and Prometheus
// as prometheus, each container on a loopback address of its own (pod-network.js makes the Node.js ones see
// the deployment's names and their own address). Then every probe the files name is tried as the kubelet or
// Docker would, Prometheus scrapes with the scrape configuration as rendered (targets rewritten to the
// containers' addresses), and a small table experiment runs to completion.
//
// What differs from a real cluster, and why: the experiment's JSON is a NAS-Bench-201 table search instead of
// the CIFAR-10 one (no dataset or GPU here), so the CIFAR-10 download (compose service cifar10, the gpu
// overlay's init container) is not run; NASRL_WORKER_TF_BACKEND=tensorflow-gpu becomes auto (the backend this
// machine has); container paths under a volume are mapped to temporary folders; Grafana is not run.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const YAML = require('yaml');
const { ROOT, installHint, resolveEnv } = require('./render');

// ------------------------------------------------------------------------------------------ images

/** The images the files name, by repository, and the Dockerfile each is built from. */
const DOCKERFILES = { nasrl: 'deploy/docker/Dockerfile', 'nasrl-worker-gpu': 'deploy/docker/Dockerfile.gpu' };

/**
 * What a container of an image built from `dockerfile` starts with: ENTRYPOINT, CMD, WORKDIR and ENV of its
 * last stage (ARG defaults substituted), and the script the entrypoint is (the file COPY puts there).
 */
function imageOf(dockerfile, root) {
  const text = fs.readFileSync(path.join(root, dockerfile), 'utf8').replace(/\\\n/g, ' ');
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const args = {};
  const env = {};
  let entrypoint = [];
  let cmd = [];
  let workdir = '/';
  const copies = [];
  for (const line of stage.split('\n').map((l) => l.trim())) {
    const [instr, ...rest] = line.split(/\s+/);
    const value = line.slice(instr.length).trim();
    const subst = (s) => s.replace(/\$\{(\w+)\}/g, (_, k) => args[k] ?? '');
    if (instr === 'ARG') {
      const [k, v = ''] = value.split('=');
      args[k] = v;
    } else if (instr === 'ENV') {
      for (const kv of value.split(/\s+/)) env[kv.slice(0, kv.indexOf('='))] = subst(kv.slice(kv.indexOf('=') + 1));
    } else if (instr === 'ENTRYPOINT') entrypoint = JSON.parse(value);
    else if (instr === 'CMD') cmd = JSON.parse(value);
    else if (instr === 'WORKDIR') workdir = value;
    else if (instr === 'COPY' && !rest.some((r) => r.startsWith('--from'))) copies.push(rest.filter((r) => !r.startsWith('--')));
  }
  const copied = copies.find((c) => c.at(-1) === entrypoint[0]);
  assert.ok(copied, `${dockerfile}: the entrypoint ${entrypoint[0]} is not a file COPY puts into the image`);
  return { dockerfile, entrypoint, cmd, workdir, env, entrypointScript: path.join(root, copied[0]) };
}

function imageByName(image, root) {
  const repo = image.replace(/:[^:/]+$/, '').split('/').at(-1);
  assert.ok(DOCKERFILES[repo], `image ${image} is not one this repository builds (${Object.keys(DOCKERFILES).join(', ')})`);
  return imageOf(DOCKERFILES[repo], root);
}

// --------------------------------------------------------------------------- containers and pods

/**
 * One container to run. kind: nasrl (the image's entrypoint with `args`), redis, prometheus. mounts: container
 * path → local folder. probes: {name, type: exec|http|grpc|tcp, port, path, argv}. dependsOn: [{name, condition}].
 */
function container(o) {
  return { dependsOn: [], probes: [], mounts: {}, stopGraceMs: 10_000, env: {}, ...o };
}

/** Maps a container path (an argument or a variable's value) to the local folder of the volume holding it. */
function mapPath(value, mounts) {
  for (const [target, local] of Object.entries(mounts)) {
    if (value === target) return local;
    if (value.startsWith(`${target}/`)) return local + value.slice(target.length);
    const eq = value.indexOf('=');
    if (eq > 0 && value.slice(eq + 1).startsWith(target)) return value.slice(0, eq + 1) + mapPath(value.slice(eq + 1), mounts);
  }
  return value;
}

const seconds = (s, dflt) => {
  if (s === undefined || s === null) return dflt;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(s));
  assert.ok(m, `duration ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]];
};

/** A compose healthcheck's test as argv ("CMD" form, or "CMD-SHELL" through sh). */
function healthArgv(test, where) {
  assert.ok(Array.isArray(test) && ['CMD', 'CMD-SHELL'].includes(test[0]), `${where}: healthcheck test ${JSON.stringify(test)}`);
  return test[0] === 'CMD' ? test.slice(1) : ['sh', '-c', test[1]];
}

/**
 * The containers of a `docker-compose config` document. Services whose image is none of these and not
 * redis or prometheus (cifar10's download, grafana) are listed in `notRun` with the reason.
 */
function composeDeployment(doc, { root = ROOT, experiment }) {
  const containers = [];
  const notRun = [];
  for (const [name, svc] of Object.entries(doc.services)) {
    const where = `compose service ${name}`;
    const mounts = {};
    for (const v of svc.volumes ?? []) {
      const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
      mounts[target] = /^[./]/.test(source) ? source : `volume:${source}`;
    }
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
    const dependsOn = Object.entries(svc.depends_on ?? {}).map(([dep, d]) => ({ name: dep, condition: d.condition ?? 'service_started' }));
    const probes = svc.healthcheck?.test ? [{ name: 'healthcheck', type: 'exec', argv: healthArgv(svc.healthcheck.test, where) }] : [];
    const stopGraceMs = seconds(svc.stop_grace_period, 10_000);
    const image = svc.build ? imageOf(svc.build.dockerfile, root) : null;
    if (image) {
      assert.equal(svc.entrypoint, undefined, `${where}: runs the image's entrypoint`);
      const args = svc.command === undefined ? image.cmd : Array.isArray(svc.command) ? svc.command : svc.command.split(/\s+/);
      containers.push(container({ name, kind: 'nasrl', image, args, env: { ...image.env, ...env }, mounts, dependsOn, probes, stopGraceMs }));
    } else if (/^redis:/.test(svc.image ?? '')) {
      containers.push(container({ name, kind: 'redis', args: svc.command, workdir: '/data', mounts, probes, dependsOn }));
    } else if (/prometheus/.test(svc.image ?? '')) {
      containers.push(container({ name, kind: 'prometheus', args: svc.command, mounts, dependsOn, scrapeConfig: composeScrapeConfig }));
    } else {
      notRun.push(`${name} (${svc.image}): ${name === 'cifar10' ? 'downloads CIFAR-10, which a table experiment does not use' : 'not a service nasrl needs to run'}`);
    }
  }
  // Who waits for a service that is not run (the dataset download) is not held back by it.
  const run = new Set(containers.map((c) => c.name));
  for (const c of containers) c.dependsOn = c.dependsOn.filter((d) => run.has(d.name));
  const controllers = containers.filter((c) => c.kind === 'nasrl' && c.args[0] === 'controller');
  assert.ok(controllers.length > 0, 'compose: no controller service');
  for (const c of controllers) {
    assert.ok(c.env.NASRL_CONTROLLER_EXPERIMENT_CONFIG, `compose service ${c.name}: no NASRL_CONTROLLER_EXPERIMENT_CONFIG to replace with the table experiment`);
    c.env.NASRL_CONTROLLER_EXPERIMENT_CONFIG = JSON.stringify({ ...experiment, id: c.env.NASRL_CONTROLLER_EXPERIMENT });
  }
  const hosts = (ips) => Object.fromEntries(containers.map((c) => [c.name, [ips.get(c.name)]]));
  return { label: 'docker-compose.yml', containers, notRun, hosts, ordered: true };
}

/** Rewrites the static targets of a compose scrape configuration to the containers' addresses. */
function composeScrapeConfig(config, { hosts, self }) {
  for (const job of config.scrape_configs ?? []) {
    for (const sc of job.static_configs ?? []) {
      sc.targets = sc.targets.map((t) => {
        const [host, port] = t.split(':');
        const ip = host === 'localhost' ? self : hosts[host]?.[0];
        assert.ok(ip, `prometheus job ${job.job_name}: target ${t} names no service of the deployment`);
        return `${ip}:${port}`;
      });
    }
  }
  return { config, expected: (config.scrape_configs ?? []).map((j) => ({ job: j.job_name, count: (j.static_configs ?? []).flatMap((s) => s.targets).length })) };
}

const sanitize = (s) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * The Kubernetes objects of `kubectl kustomize`: one container per pod of every StatefulSet and Deployment
 * (init containers, which download CIFAR-10, are listed in notRun), the ConfigMaps resolved into their env.
 */
function kubernetesDeployment(docs, { experiment }) {
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d]));
  const containers = [];
  const notRun = [];
  const pods = [];
  for (const w of docs.filter((d) => d.kind === 'StatefulSet' || d.kind === 'Deployment')) {
    const tpl = w.spec.template;
    for (const ic of tpl.spec.initContainers ?? []) notRun.push(`${w.metadata.name} init container ${ic.name} (${ic.image}): downloads CIFAR-10, which a table experiment does not use`);
    for (let i = 0; i < w.spec.replicas; i++) {
      const podName = w.kind === 'StatefulSet' ? `${w.metadata.name}-${i}` : `${w.metadata.name}-5d8f7c9b6-x${i}k2p`;
      const pod = { name: podName, namespace: w.metadata.namespace, labels: tpl.metadata.labels ?? {}, annotations: tpl.metadata.annotations ?? {}, workload: w, ports: [] };
      pods.push(pod);
      for (const c of tpl.spec.containers) {
        const where = `${w.kind}/${w.metadata.name} pod ${podName} container ${c.name}`;
        const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, `volume:${podName}-${m.name}`]));
        const portOf = (p) => (typeof p === 'number' ? p : (c.ports ?? []).find((x) => x.name === p)?.containerPort);
        pod.ports.push(...(c.ports ?? []).map((p) => ({ ...p, container: c.name })));
        const probes = [];
        for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          const p = c[kind];
          if (!p) continue;
          const name = kind.replace('Probe', '');
          if (p.httpGet) probes.push({ name, type: 'http', port: portOf(p.httpGet.port), path: p.httpGet.path, declared: p.httpGet.port });
          else if (p.grpc) probes.push({ name, type: 'grpc', port: portOf(p.grpc.port), service: p.grpc.service ?? '', declared: p.grpc.port });
          else if (p.tcpSocket) probes.push({ name, type: 'tcp', port: portOf(p.tcpSocket.port), declared: p.tcpSocket.port });
          else if (p.exec) probes.push({ name, type: 'exec', argv: p.exec.command });
          const last = probes.at(-1);
          assert.ok(last.type === 'exec' || Number.isInteger(last.port), `${where}: ${kind} port ${last.declared} is no port of the container`);
        }
        const stopGraceMs = (tpl.spec.terminationGracePeriodSeconds ?? 30) * 1000;
        const base = { name: podName, container: c.name, pod, mounts, probes, stopGraceMs };
        if (/^redis:/.test(c.image)) {
          containers.push(container({ ...base, kind: 'redis', args: [...(c.command ?? []), ...(c.args ?? [])], workdir: '/data' }));
          continue;
        }
        const image = imageByName(c.image, ROOT);
        const entry = c.command ?? image.entrypoint;
        assert.deepEqual(entry, image.entrypoint, `${where}: runs the image's entrypoint`);
        const env = resolveEnv(c, podName, configMaps, where);
        containers.push(container({ ...base, kind: 'nasrl', image, args: c.args ?? (c.command ? [] : image.cmd), env: { ...image.env, ...env }, configMapEnv: c.env }));
      }
    }
  }
  // The experiment JSON a controller reads from its ConfigMap (resolved above, so the reference is checked) is
  // replaced by the table search.
  const controllers = containers.filter((c) => c.kind === 'nasrl' && c.args[0] === 'controller');
  assert.ok(controllers.length > 0, 'kubernetes: no controller');
  for (const c of controllers) {
    const ref = c.configMapEnv.find((e) => e.name === 'NASRL_CONTROLLER_EXPERIMENT_CONFIG')?.valueFrom?.configMapKeyRef;
    assert.ok(ref, `controller pod ${c.name}: NASRL_CONTROLLER_EXPERIMENT_CONFIG does not come from a ConfigMap`);
    c.env.NASRL_CONTROLLER_EXPERIMENT_CONFIG = JSON.stringify({ ...experiment, id: c.env.NASRL_CONTROLLER_EXPERIMENT });
  }
  const hosts = (ips) => {
    const h = {};
    const add = (name, ns, ip) => {
      for (const n of [name, `${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`]) (h[n] ??= []).push(ip);
    };
    for (const pod of pods) {
      const ip = ips.get(pod.name);
      if (pod.workload.kind === 'StatefulSet') add(`${pod.name}.${pod.workload.spec.serviceName}`, pod.namespace, ip);
      for (const svc of docs.filter((d) => d.kind === 'Service' && d.metadata.namespace === pod.namespace)) {
        if (Object.entries(svc.spec.selector ?? {}).every(([k, v]) => pod.labels[k] === v)) add(svc.metadata.name, pod.namespace, ip);
      }
    }
    return h;
  };
  const prometheus = container({
    name: 'prometheus', kind: 'prometheus', mounts: { '/etc/prometheus': path.join(ROOT, 'deploy/prometheus') },
    args: ['--config.file=/etc/prometheus/prometheus-k8s.yml', '--storage.tsdb.path=/prometheus'],
    scrapeConfig: (config, { ips, dir }) => kubernetesScrapeConfig(config, pods, ips, dir),
  });
  prometheus.mounts['/prometheus'] = 'volume:prometheus-data';
  return { label: 'deploy/k8s/overlays', containers: [...containers, prometheus], notRun, hosts, ordered: false };
}

/**
 * Replaces the pod discovery of a Kubernetes scrape configuration by a file listing what it would find for
 * the rendered pods: one target per container port (or one per pod without ports) at the pod's address, with
 * the __meta_kubernetes_pod_* labels of Prometheus' Kubernetes discovery. The relabelling stays as written.
 */
function kubernetesScrapeConfig(config, pods, ips, dir) {
  const expected = [];
  for (const job of config.scrape_configs ?? []) {
    const sds = job.kubernetes_sd_configs ?? [];
    if (sds.length === 0) continue;
    const groups = [];
    for (const sd of sds) {
      assert.equal(sd.role, 'pod', `prometheus job ${job.job_name}: only role pod is simulated`);
      const namespaces = sd.namespaces?.names;
      for (const pod of pods.filter((p) => !namespaces || namespaces.includes(p.namespace))) {
        const ip = ips.get(pod.name);
        const labels = { __meta_kubernetes_namespace: pod.namespace, __meta_kubernetes_pod_name: pod.name, __meta_kubernetes_pod_ip: ip, __meta_kubernetes_pod_ready: 'true', __meta_kubernetes_pod_phase: 'Running' };
        for (const [k, v] of Object.entries(pod.labels)) Object.assign(labels, { [`__meta_kubernetes_pod_label_${sanitize(k)}`]: v, [`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`]: 'true' });
        for (const [k, v] of Object.entries(pod.annotations)) Object.assign(labels, { [`__meta_kubernetes_pod_annotation_${sanitize(k)}`]: v, [`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`]: 'true' });
        if (pod.ports.length === 0) groups.push({ targets: [ip], labels });
        for (const p of pod.ports) {
          groups.push({
            targets: [`${ip}:${p.containerPort}`],
            labels: { ...labels, __meta_kubernetes_pod_container_name: p.container, __meta_kubernetes_pod_container_port_number: String(p.containerPort), __meta_kubernetes_pod_container_port_name: p.name ?? '', __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP' },
          });
        }
        if (pod.annotations['prometheus.io/scrape'] === 'true') expected.push(pod.labels['app.kubernetes.io/component']);
      }
    }
    const file = path.join(dir, `${sanitize(job.job_name)}-pods.json`);
    fs.writeFileSync(file, JSON.stringify(groups, null, 1));
    delete job.kubernetes_sd_configs;
    job.file_sd_configs = [{ files: [file] }];
  }
  const counts = {};
  for (const job of expected) counts[job] = (counts[job] ?? 0) + 1;
  return { config, expected: Object.entries(counts).map(([job, count]) => ({ job, count })) };
}

// ------------------------------------------------------------------------------------------ running

/** A random /24 of 127.0.0.0/8 (one address per container), so that two runs on one machine do not meet. */
function addressBlock() {
  const a = 100 + Math.floor(Math.random() * 150);
  const b = 1 + Math.floor(Math.random() * 250);
  return (n) => `127.${a}.${b}.${n + 2}`;
}

/** Starts one container's process; its output goes to dir/NAME.log. */
function startContainer(c, { dir, ip, hosts, binaries }) {
  const log = path.join(dir, `${c.name}${c.container ? `-${c.container}` : ''}.log`);
  const mounts = {};
  for (const [target, source] of Object.entries(c.mounts)) {
    const local = source.startsWith('volume:') ? path.join(dir, 'volumes', source.slice('volume:'.length)) : source;
    if (source.startsWith('volume:')) fs.mkdirSync(local, { recursive: true });
    mounts[target] = local;
  }
  const home = path.join(dir, 'home', c.name);
  fs.mkdirSync(home, { recursive: true });
  let argv;
  let env = { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: home, HOSTNAME: c.name };
  let cwd = home;
  if (c.kind === 'nasrl') {
    // The image's entrypoint script, with the image's /app being this checkout (the image copies it there).
    const script = fs.readFileSync(c.image.entrypointScript, 'utf8').split(`${c.image.workdir}/`).join(`${ROOT}/`);
    argv = ['sh', '-c', script, c.image.entrypoint[0], ...c.args];
    const preload = path.join(dir, `network-${c.name}.js`);
    fs.writeFileSync(preload, `require(${JSON.stringify(path.join(__dirname, 'pod-network.js'))}).install(${JSON.stringify({ self: ip, hosts })});\n`);
    const fileEnv = Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, mapPath(v, mounts)]));
    // The GPU image's backend is the one this machine has.
    if (fileEnv.NASRL_WORKER_TF_BACKEND === 'tensorflow-gpu') fileEnv.NASRL_WORKER_TF_BACKEND = 'auto';
    env = { ...env, ...fileEnv, NODE_OPTIONS: `--require ${preload}${fileEnv.NODE_OPTIONS ? ` ${fileEnv.NODE_OPTIONS}` : ''}` };
    cwd = ROOT;
  } else if (c.kind === 'redis') {
    assert.equal(c.args[0], 'redis-server', `${c.name}: the redis container runs ${c.args[0]}`);
    argv = [binaries.redis, ...c.args.slice(1).map((a) => mapPath(a, mounts)), '--bind', ip];
    cwd = mapPath(c.workdir, mounts);
  } else {
    argv = [binaries.prometheus, ...c.args.map((a) => mapPath(a, mounts)), `--web.listen-address=${ip}:9090`];
  }
  const out = fs.openSync(log, 'a');
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let code;
  const exited = new Promise((resolve) => child.once('exit', (c2, signal) => resolve((code = c2 ?? signal))));
  child.on('error', () => undefined);
  return { c, ip, env, child, log, exited, exitCode: () => code, tail: (n = 15) => tailOf(log, n) };
}

function tailOf(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `argv` inside the container's network and environment; resolves with its exit code. */
function execIn(p, argv, timeoutMs) {
  let [cmd, ...args] = argv;
  const env = p.env;
  // redis-cli is no Node.js program: the container's loopback is its address.
  if (cmd === 'redis-cli') args = ['-h', p.ip, ...args];
  else assert.equal(cmd, 'node', `${p.c.name}: probe command ${cmd} is not one this test can run in a container's network`);
  if (cmd === 'node') cmd = process.execPath;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: 'ignore', cwd: ROOT });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', () => resolve(127));
    child.once('exit', (code) => (clearTimeout(timer), resolve(code ?? 1)));
  });
}

/** Tries a probe once as the kubelet (or Docker, for exec) would; resolves with true when it passes. */
async function probeOnce(p, probe, health) {
  // Generous: what is checked is the wiring, not how fast a loaded machine starts a process.
  if (probe.type === 'exec') return (await execIn(p, probe.argv, 120_000)) === 0;
  if (probe.type === 'http') {
    try {
      const r = await fetch(`http://${p.ip}:${probe.port}${probe.path}`, { signal: AbortSignal.timeout(3_000) });
      // Not found is an answer, not a service still starting: the probe names a path the service does not serve.
      if (r.status === 404) return 'not-found';
      return r.status >= 200 && r.status < 400;
    } catch {
      return false;
    }
  }
  if (probe.type === 'tcp') {
    return new Promise((resolve) => {
      const s = net.connect({ host: p.ip, port: probe.port });
      s.setTimeout(3_000, () => (s.destroy(), resolve(false)));
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  }
  if (probe.type === 'grpc') return health(`${p.ip}:${probe.port}`, probe.service);
  throw new Error(`probe type ${probe.type}`);
}

/** A grpc.health.v1 Check, as the kubelet's gRPC probe makes it: true when the answer is SERVING. */
function grpcHealth() {
  const grpc = require('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader');
  const def = loader.loadSync('grpc/health/v1/health.proto', { includeDirs: [path.join(ROOT, 'proto')], enums: String });
  const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
  return (address, service) =>
    new Promise((resolve) => {
      const client = new Health(address, grpc.credentials.createInsecure());
      client.Check({ service }, { deadline: Date.now() + 10_000 }, (err, res) => {
        client.close();
        resolve(!err && res.status === 'SERVING');
      });
    });
}

/** Polls until every probe named `name` (readiness, healthcheck) passes; fails naming those that never did. */
async function waitForProbes(procs, names, timeoutMs, health) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(procs.flatMap((p) => p.c.probes.filter((q) => names.includes(q.name)).map((q) => ({ p, q }))));
  while (pending.size > 0) {
    const items = [...pending];
    for (const { p, q } of items) {
      if (p.exitCode() !== undefined) assert.fail(`${p.c.name} exited with ${p.exitCode()} before its ${q.name} probe passed; its log:\n${p.tail()}`);
    }
    const passed = await Promise.all(items.map(({ p, q }) => probeOnce(p, q, health)));
    items.forEach(({ p, q }, i) => assert.notEqual(passed[i], 'not-found', `${p.c.name}: ${q.name} probe ${describeProbe(q)} answered 404 Not Found`));
    items.forEach((item, i) => passed[i] === true && pending.delete(item));
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const list = [...pending].map(({ p, q }) => `${p.c.name} ${q.name} ${describeProbe(q)}\n  its log: ${p.tail(6).replace(/\n/g, '\n  ')}`);
      assert.fail(`probes still failing after ${timeoutMs} ms:\n${list.join('\n')}`);
    }
    await sleep(1_000);
  }
}

const describeProbe = (q) => (q.type === 'exec' ? JSON.stringify(q.argv) : q.type === 'http' ? `GET :${q.port}${q.path}` : `${q.type} :${q.port}`);

/**
 * Runs a deployment: starts its containers (compose: in depends_on order, waiting for service_healthy), waits
 * for every readiness probe or healthcheck, tries every liveness probe, lets Prometheus scrape, runs the table
 * experiment to completion and stops everything with SIGTERM. Returns what the test asserts on.
 */
async function runDeployment(d, { experiment, timeoutMs = 150_000, onDiagnostic = () => undefined }) {
  const binaries = { redis: which('redis-server'), prometheus: which('prometheus') };
  which('redis-cli');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nasrl-wiring-'));
  const addressOf = addressBlock();
  const ips = new Map(d.containers.map((c, i) => [c.name, addressOf(i)]));
  const hosts = d.hosts(ips);
  const health = grpcHealth();
  const procs = [];
  const started = Date.now();
  const deadline = started + timeoutMs;
  const left = () => Math.max(1_000, deadline - Date.now());
  const timing = {};
  let store;
  let redisClient;
  // Should this process end before the finally below has run (the test runner's timeout), nothing is left behind.
  const orphans = () => procs.forEach((p) => p.exitCode() === undefined && p.child.kill('SIGKILL'));
  process.once('exit', orphans);
  try {
    const start = (c) => {
      const ip = ips.get(c.name);
      if (c.kind === 'prometheus') {
        const etc = path.join(dir, 'prometheus-config');
        fs.mkdirSync(etc, { recursive: true });
        const [target, source] = Object.entries(c.mounts).find(([t]) => t === '/etc/prometheus');
        assert.ok(source, 'prometheus: no configuration mounted at /etc/prometheus');
        const configArg = c.args.find((a) => a.startsWith('--config.file='));
        const rel = path.relative(target, configArg.slice('--config.file='.length));
        const [config] = YAML.parseAllDocuments(fs.readFileSync(path.join(source, rel), 'utf8')).map((x) => x.toJSON());
        const { expected } = c.scrapeConfig(config, { hosts, self: ip, ips, dir: etc });
        fs.writeFileSync(path.join(etc, rel), YAML.stringify(config));
        c.mounts = { ...c.mounts, '/etc/prometheus': etc };
        c.expectedJobs = expected;
      }
      const p = startContainer(c, { dir, ip, hosts, binaries });
      procs.push(p);
      return p;
    };
    if (d.ordered) {
      // docker-compose up: a service starts once what it depends on has started, or is healthy.
      const byName = new Map();
      const todo = [...d.containers];
      while (todo.length > 0) {
        const ready = todo.filter((c) => c.dependsOn.every((dep) => byName.has(dep.name)));
        assert.ok(ready.length > 0, `compose: depends_on has a cycle among ${todo.map((c) => c.name).join(', ')}`);
        const healthy = new Set(ready.flatMap((c) => c.dependsOn.filter((x) => x.condition === 'service_healthy').map((x) => x.name)));
        await waitForProbes([...healthy].map((n) => byName.get(n)), ['healthcheck'], left(), health);
        for (const c of ready) {
          byName.set(c.name, start(c));
          todo.splice(todo.indexOf(c), 1);
        }
      }
    } else {
      for (const c of d.containers) start(c);
    }
    timing.started = Date.now() - started;
    await waitForProbes(procs, ['startup', 'readiness', 'healthcheck'], left(), health);
    timing.ready = Date.now() - started;
    for (const p of procs) {
      for (const q of p.c.probes.filter((x) => x.name === 'liveness')) {
        assert.equal(await probeOnce(p, q, health), true, `${p.c.name}: liveness probe ${describeProbe(q)} fails; its log:\n${p.tail()}`);
      }
    }

    // The experiment, to completion.
    const queue = require(path.join(ROOT, 'packages/queue/dist/src/index.js'));
    const redis = procs.find((p) => p.c.kind === 'redis');
    redisClient = queue.connectRedis(`redis://${redis.ip}:6379`);
    store = new queue.ExperimentStore(redisClient);
    const controllers = procs.filter((p) => p.c.kind === 'nasrl' && p.c.args[0] === 'controller');
    const id = controllers[0].env.NASRL_CONTROLLER_EXPERIMENT;
    for (;;) {
      const count = await store.resultCount(id).catch(() => 0);
      const spent = controllers.every((p) => /"event":"budget-spent"/.test(fs.readFileSync(p.log, 'utf8')));
      if (count >= experiment.budgetArchs && spent) break;
      for (const p of procs) if (p.exitCode() !== undefined) assert.fail(`${p.c.name} exited with ${p.exitCode()} during the experiment; its log:\n${p.tail()}`);
      if (Date.now() > deadline) assert.fail(`the experiment ${id} has ${count} of ${experiment.budgetArchs} results after ${timeoutMs} ms; controller logs:\n${controllers.map((p) => p.tail(8)).join('\n')}`);
      await sleep(250);
    }
    timing.experiment = Date.now() - started;
    const results = await store.results(id);
    const steps = [...new Set(results.map((r) => r.stepId))];
    const applied = await Promise.all(steps.map((s) => store.isStepApplied(id, s)));
    const workers = new Set(results.map((r) => r.result.worker));

    // Prometheus: every target of the scrape configuration up.
    const prom = procs.find((p) => p.c.kind === 'prometheus');
    let targets = [];
    for (;;) {
      try {
        const r = await fetch(`http://${prom.ip}:9090/api/v1/targets`, { signal: AbortSignal.timeout(3_000) });
        targets = (await r.json()).data.activeTargets;
      } catch {
        targets = [];
      }
      const byJob = Object.fromEntries(prom.c.expectedJobs.map((e) => [e.job, new Set(targets.filter((t) => t.labels.job === e.job && t.health === 'up').map((t) => t.scrapeUrl))]));
      if (prom.c.expectedJobs.every((e) => byJob[e.job].size === e.count)) break;
      if (Date.now() > deadline) {
        const state = targets.map((t) => `${t.labels.job} ${t.scrapeUrl}: ${t.health} ${t.lastError ?? ''}`).join('\n');
        assert.fail(`Prometheus: targets not all up (expected ${JSON.stringify(prom.c.expectedJobs)}):\n${state || 'no targets'}\nits log:\n${prom.tail()}`);
      }
      await sleep(500);
    }
    timing.scraped = Date.now() - started;
    for (const line of d.notRun) onDiagnostic(`not run: ${line}`);
    return { id, results, steps, applied, workers, targets, procs, timing, dir };
  } finally {
    redisClient?.disconnect();
    // docker-compose down / pod deletion: SIGTERM, then SIGKILL after the grace period.
    await Promise.all(procs.map(async (p) => {
      if (p.exitCode() !== undefined) return;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), p.c.stopGraceMs);
      await p.exited;
      clearTimeout(timer);
    }));
    process.removeListener('exit', orphans);
    timing.stopped = Date.now() - started;
    for (const p of procs) p.stoppedWith = p.exitCode();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, installHint(cmd));
  return r.stdout.trim();
}

module.exports = { composeDeployment, kubernetesDeployment, runDeployment, imageOf };
