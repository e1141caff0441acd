import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ParameterServerConfigError } from './errors';

/** TLS of a shard server, as PEM files. */
export interface ServerTlsOptions {
  /** The server's certificate chain. */
  certFile: string;
  /** The server's private key. */
  keyFile: string;
  /** CA bundle that client certificates must chain to; when set, clients without a valid certificate are refused. */
  clientCaFile?: string;
}

/** TLS of a client, as PEM files. */
export interface ClientTlsOptions {
  /** CA bundle the shards' certificates must chain to; omitted = the system roots. */
  caFile?: string;
  /** Client certificate chain, for shards that require client certificates. */
  certFile?: string;
  /** Client private key (with certFile). */
  keyFile?: string;
  /** Name to verify the shard certificates against instead of the address host (e.g. behind an IP). */
  serverNameOverride?: string;
}

/** Builds server credentials from PEM files; insecure when `tls` is undefined. */
export function serverCredentials(tls: ServerTlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const ca = tls.clientCaFile ? readPem(tls.clientCaFile, 'client CA') : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readPem(tls.certFile, 'server certificate'), private_key: readPem(tls.keyFile, 'server key') }],
    ca !== null,
  );
}

/** Builds channel credentials from PEM files; insecure when `tls` is undefined. */
export function clientCredentials(tls: ClientTlsOptions | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ParameterServerConfigError('client TLS needs both certFile and keyFile, or neither');
  }
  return grpc.credentials.createSsl(
    tls.caFile ? readPem(tls.caFile, 'CA') : null,
    tls.keyFile ? readPem(tls.keyFile, 'client key') : null,
    tls.certFile ? readPem(tls.certFile, 'client certificate') : null,
  );
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ParameterServerConfigError(`cannot read the ${what} file ${file}: ${(e as Error).message}`);
  }
}
