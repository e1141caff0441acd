import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ParameterServerClient, ParameterServerServer, ShardCore, ShardRpcError } from '../src/index';
import { tempDir } from './helpers';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
function makePki(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCert' | 'otherKey', string> {
  const f = (n: string): string => path.join(dir, n);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  };
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=nasrl-test-ca');
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const leaf = (name: string, ca: string, caKey: string, ext?: string): void => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', ...(ext ? ['-extfile', ext] : []));
  };
  leaf('server', f('ca.pem'), f('ca.key'), f('server.ext'));
  leaf('client', f('ca.pem'), f('ca.key'));
  // A client certificate from an unrelated, self-signed CA.
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('other.key'), '-out', f('other.pem'), '-days', '2', '-subj', '/CN=intruder');
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherCert: f('other.pem'), otherKey: f('other.key') };
}

test('TLS with client certificates: a client with a CA-signed certificate is served, others are refused', { skip: !hasOpenssl() && 'openssl not installed' }, async () => {
  const { dir, cleanup } = tempDir('nasrl-ps-tls-');
  const pki = makePki(dir);
  const shard = new ShardCore({ shardIndex: 0, shardCount: 1 });
  const server = await ParameterServerServer.start({
    shard,
    address: '127.0.0.1:0',
    tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.ca },
  });
  const clients: ParameterServerClient[] = [];
  const mk = (tls: ConstructorParameters<typeof ParameterServerClient>[0]['tls']): ParameterServerClient => {
    const c = new ParameterServerClient({ shards: [server.address], retry: { maxAttempts: 1 }, deadlineMs: 3_000, ...(tls ? { tls } : {}) });
    clients.push(c);
    return c;
  };
  try {
    const good = mk({ caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey });
    const init = await good.init('tls', [{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }]);
    assert.deepEqual(init.created, [true]);
    for (const [what, tls] of [
      ['no client certificate', { caFile: pki.ca }],
      ['certificate from another CA', { caFile: pki.ca, certFile: pki.otherCert, keyFile: pki.otherKey }],
      ['plaintext', undefined],
    ] as const) {
      await assert.rejects(mk(tls).pull('tls'), (e: unknown) => e instanceof ShardRpcError && e.code === 14, what);
    }
  } finally {
    for (const c of clients) c.close();
    await server.close();
    cleanup();
  }
});
