'use strict';
// What the deploy checks share: running the tools, parsing YAML, and the files rendered as the tools render
// them (`docker-compose config`, `kubectl kustomize`). `root` is the repository whose files are rendered (a
// temporary copy, to see a check fail on a deliberately broken file); it defaults to this checkout.
const assert = require('node:assert/strict');
const YAML = require('yaml');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

const INSTALL = {
  'docker-compose': 'install it with `apt-get install -y docker-compose` (Debian/Ubuntu)',
  kubectl: 'kubectl (with its built-in kustomize) is expected on the machine image; install it from https://kubernetes.io/docs/tasks/tools/ (e.g. `apt-get install -y kubectl` from the Kubernetes apt repository)',
  promtool: 'install it with `apt-get install -y prometheus` (Debian/Ubuntu ship promtool in that package)',
  prometheus: 'install it with `apt-get install -y prometheus` (Debian/Ubuntu)',
  'redis-server': 'install it with `apt-get install -y redis-server` (Debian/Ubuntu)',
  'redis-cli': 'install it with `apt-get install -y redis-tools` (Debian/Ubuntu; redis-server depends on it)',
  sh: 'a POSIX shell is needed to syntax-check deploy/docker/entrypoint.sh',
};

/** The install hint for a missing command. */
const installHint = (cmd) => `${cmd} is not installed: ${INSTALL[cmd] ?? 'install it'}`;

/** Runs a command; a missing executable fails with its install hint. */
function run(cmd, args, { input, env, cwd = ROOT } = {}) {
  const r = spawnSync(cmd, args, { cwd, input, env: env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
  if (r.error && r.error.code === 'ENOENT') assert.fail(installHint(cmd));
  // EPIPE: the command exited before reading its input; its status and stderr say why.
  if (r.error && r.error.code !== 'EPIPE') throw r.error;
  return r;
}

function runOk(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Every non-empty YAML document of `text` as plain JSON values; a YAML error names the document. */
function parseYaml(text) {
  return YAML.parseAllDocuments(text)
    .map((doc, i) => {
      assert.deepEqual(doc.errors, [], `YAML document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJSON();
    })
    .filter((d) => d !== null && d !== undefined);
}

const readYamlFile = (rel, root = ROOT) => parseYaml(fs.readFileSync(path.join(root, rel), 'utf8'));

function composeEnv(extra = {}) {
  // Interpolation defaults only: the caller's NASRL_* / REDIS_URL must not change what is checked.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(NASRL_|REDIS_URL$|CIFAR10_URL$|GRAFANA_|COMPOSE_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

/** `docker-compose config` of root/docker-compose.yml, parsed. */
function composeConfig(extra, { envFile, root = ROOT } = {}) {
  const out = runOk('docker-compose', ['-f', 'docker-compose.yml', ...(envFile ? ['--env-file', envFile] : []), 'config'], { env: composeEnv(extra), cwd: root });
  const [doc] = parseYaml(out);
  assert.ok(doc && doc.services, 'docker-compose config printed no services');
  return doc;
}

/** `kubectl kustomize` of an overlay of root/deploy/k8s, parsed. */
function kustomize(overlay, root = ROOT) {
  const out = runOk('kubectl', ['kustomize', `deploy/k8s/overlays/${overlay}`], { cwd: root });
  return parseYaml(out);
}

/** Resolves a container's env to plain values as the pod `podName` would see them. */
function resolveEnv(c, podName, configMaps, where) {
  const env = {};
  for (const e of c.env ?? []) {
    if ('value' in e) env[e.name] = e.value;
    else if (e.valueFrom.fieldRef) {
      assert.equal(e.valueFrom.fieldRef.fieldPath, 'metadata.name', `${where}: env ${e.name}: only metadata.name is resolved here`);
      env[e.name] = podName;
    } else if (e.valueFrom.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const cm = configMaps.get(name);
      assert.ok(cm, `${where}: env ${e.name} refers to a ConfigMap ${name} that is not rendered`);
      assert.ok(cm.data && key in cm.data, `${where}: env ${e.name}: ConfigMap ${name} has no key ${key}`);
      env[e.name] = cm.data[key];
    } else {
      assert.fail(`${where}: env ${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
    }
  }
  return env;
}

module.exports = { ROOT, installHint, run, runOk, parseYaml, readYamlFile, composeConfig, kustomize, resolveEnv };
