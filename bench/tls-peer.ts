/**
 * The server side of the handshake benchmark, in its own process: a TLS server that answers "ok"
 * once a client is admitted. `spiffe` mode presents an SVID, requires the client's and runs the
 * SPIFFE checks before answering; `plain` mode presents a self-signed certificate only.
 * Usage: node tls-peer.js < CONFIG (JSON on stdin, so no key is written to a file); prints
 * "listening PORT" when ready.
 */
import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { X509Bundle } from '../src/identity/bundle/x509-bundle.js';
import { systemClock } from '../src/identity/clock.js';
import { StaticX509Source } from '../src/identity/source.js';
import { TrustDomain, SpiffeId } from '../src/identity/spiffe-id.js';
import { authorizeId } from '../src/identity/svid/verify.js';
import { parseX509Svid } from '../src/identity/svid/x509-svid.js';
import { serverTlsOptions, verifiedConnectionListener } from '../src/identity/tls.js';

export interface PeerConfig {
  readonly mode: 'spiffe' | 'plain';
  readonly certPem: string;
  readonly keyPem: string;
  /** spiffe mode: the bundle and the client ID to admit. */
  readonly bundlePem?: string;
  readonly trustDomain?: string;
  readonly clientId?: string;
}

const config = JSON.parse(readFileSync(0, 'utf8')) as PeerConfig;
const answer = (socket: TLSSocket): void => {
  socket.on('error', () => socket.destroy());
  socket.end('ok');
};
let server;
if (config.mode === 'plain') {
  server = createServer({ cert: config.certPem, key: config.keyPem, minVersion: 'TLSv1.3' }, answer);
} else {
  const trustDomain = TrustDomain.parse(config.trustDomain!);
  const bundles = X509Bundle.parse(trustDomain, config.bundlePem!);
  const source = new StaticX509Source(parseX509Svid(config.certPem, config.keyPem));
  const trust = { bundles, trustDomains: [trustDomain] };
  server = createServer(
    serverTlsOptions(source, trust),
    verifiedConnectionListener({ bundles, clock: systemClock, authorizer: authorizeId(SpiffeId.parse(config.clientId!)) }, (socket) => answer(socket)),
  );
}
server.on('tlsClientError', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
