/**
 * `podgate identity ...`: the SPIFFE authority from the command line. Every subcommand works on the
 * authority's state directory (`--state-dir`, else $PODGATE_STATE_DIR, else a per-user directory).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AuthorityServer } from '../../authority/api/server.js';
import { Authority, type CaStatus, type OperatorCa } from '../../authority/authority.js';
import { StaticPodDirectory } from '../../authority/pod-directory.js';
import { SpiffeBundle } from '../../identity/bundle/spiffe-bundle.js';
import { X509Bundle } from '../../identity/bundle/x509-bundle.js';
import { DEFAULT_SVID_TTL_MS, MIN_SVID_TTL_MS } from '../../identity/ca/sign.js';
import { IdentityError } from '../../identity/errors.js';
import { idFromCertificate, svidSpecViolations } from '../../identity/svid/x509-svid.js';
import { verifyX509Svid } from '../../identity/svid/verify.js';
import { TrustDomain, workloadId, type SpiffeId } from '../../identity/spiffe-id.js';
import { parseCertificates, type Certificate } from '../../identity/x509/certificate.js';
import { createCsr } from '../../identity/x509/csr.js';
import { decodePem } from '../../identity/x509/pem.js';
import { formatTimestampNs, parseDurationNs, parseTimestampNs } from '../../flow/model.js';
import { asCliError, CliError, collect, loadForEvaluation, stdio, type Output } from '../common.js';

const STATE_DIR_HELP = 'the authority state directory (default: $PODGATE_STATE_DIR, else $XDG_STATE_HOME/podgate or ~/.local/state/podgate)';

/** Where the authority keeps its state when --state-dir is not given. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['PODGATE_STATE_DIR'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const base = env['XDG_STATE_HOME'] !== undefined && env['XDG_STATE_HOME'] !== '' ? env['XDG_STATE_HOME'] : join(homedir(), '.local', 'state');
  return join(base, 'podgate');
}

function stateDirOf(options: { stateDir?: string }): string {
  return resolve(options.stateDir ?? defaultStateDir());
}

/** Runs `work` with the authority open, turning coded identity errors into CLI errors. */
function withAuthority<T>(options: { stateDir?: string }, work: (authority: Authority) => T): T {
  let authority: Authority | undefined;
  try {
    authority = Authority.open(stateDirOf(options));
    return work(authority);
  } catch (error) {
    throw asCliError(error);
  } finally {
    authority?.close();
  }
}

/**
 * Writes a key readable by its owner only: a fresh 0600 file renamed over the target, so neither an
 * existing file's wider mode nor a symbolic link planted at the path decides where the key goes.
 */
function writePrivate(path: string, data: string | Buffer): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data, { mode: 0o600, flag: 'wx' });
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** An operator-supplied CA or intermediate from --ca-cert, --ca-key and --ca-bundle; undefined: podgate makes a root. */
function operatorCa(options: { caCert?: string; caKey?: string; caBundle?: string }): OperatorCa | undefined {
  if ((options.caCert === undefined) !== (options.caKey === undefined)) throw new CliError('PODGATE_E_USAGE', '--ca-cert and --ca-key go together', 'give both, or neither to have podgate create a root');
  if (options.caCert === undefined || options.caKey === undefined) return undefined;
  return { certificatesPem: readInput(options.caCert, 'CA certificate'), keyPem: readInput(options.caKey, 'CA key'), ...(options.caBundle !== undefined ? { bundlePem: readInput(options.caBundle, 'CA bundle') } : {}) };
}

function parseTtl(text: string): number {
  const ns = parseDurationNs(text.trim());
  if (ns === undefined) throw new CliError('PODGATE_E_USAGE', `--ttl "${text}" is not a duration`, 'write it like 1h, 30m or 90s');
  const ms = Number(ns / 1_000_000n);
  if (ms < MIN_SVID_TTL_MS) throw new CliError('PODGATE_E_USAGE', `--ttl ${text} is shorter than ${MIN_SVID_TTL_MS / 1000}s`, 'give a lifetime such as 1h');
  return ms;
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (error) {
    throw new CliError('PODGATE_E_INPUT', `cannot read ${what} ${path}: ${(error as Error).message}`, 'check the path');
  }
}

function iso(date: Date): string {
  return formatTimestampNs(BigInt(date.getTime()) * 1_000_000n);
}

function describeCa(ca: CaStatus): string {
  const last = ca.lastSvidExpiry === undefined ? '' : `, last SVID expires ${iso(ca.lastSvidExpiry)}`;
  const activatable = ca.state === 'prepared' && ca.activatableAt !== undefined ? `, may be activated from ${iso(ca.activatableAt)}` : '';
  return `CA ${ca.id}  ${ca.state.padEnd(8)}  ${ca.origin === 'operator' ? 'operator CA  ' : ''}${ca.subject}  valid ${iso(ca.notBefore)} → ${iso(ca.notAfter)}${last}${activatable}`;
}

export function registerIdentity(program: Command, output: Output = stdio): void {
  const identity = program
    .command('identity')
    .description('the SPIFFE authority: issue, inspect and rotate X509-SVIDs, publish the trust bundle')
    .addHelpText(
      'after',
      `
SPIFFE IDs have the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
State (CA keys with mode 0600, serial counter, issued-SVID audit, deny-list, join tokens) lives in
the state directory and survives restarts.

Examples:
  podgate identity init --trust-domain prod.example.com --state-dir /var/lib/podgate
  podgate identity issue --namespace payments --service-account api --out ./svid
  podgate identity inspect ./svid/svid.pem --bundle ./svid/bundle.pem
  podgate identity bundle --format jwks`,
    );

  identity
    .command('init')
    .description('create an authority: a new ECDSA P-256 root CA, or an operator-supplied CA or intermediate')
    .option('--trust-domain <name>', 'the trust domain', 'cluster.local')
    .option('--ca-cert <file>', 'sign with this CA or intermediate certificate (PEM; intermediates after it)')
    .option('--ca-key <file>', 'the private key of --ca-cert (PEM)')
    .option('--ca-bundle <file>', 'the root(s) to publish when --ca-cert is an intermediate (PEM)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText('after', '\nExit status: 0 created, 2 bad input or an authority already there.\nExample: podgate identity init --trust-domain cluster.local --state-dir ./authority')
    .action((options: { trustDomain: string; caCert?: string; caKey?: string; caBundle?: string; stateDir?: string }) => {
      if (options.trustDomain.includes('://') || options.trustDomain.includes('/')) throw new CliError('PODGATE_E_SPIFFE_ID', `--trust-domain "${options.trustDomain}" is not a bare trust domain name`, 'give the name only, e.g. --trust-domain prod.example.com');
      const ca = operatorCa(options);
      const stateDir = stateDirOf(options);
      let authority: Authority | undefined;
      try {
        authority = Authority.init(stateDir, { trustDomain: options.trustDomain, ...(ca ? { ca } : {}) });
        output.out(`authority for trust domain ${authority.trustDomain.name} in ${stateDir}`);
        for (const status of authority.cas()) output.out(describeCa(status));
        output.out('next: podgate identity bundle > bundle.pem   (distribute it to every agent)');
      } catch (error) {
        throw asCliError(error);
      } finally {
        authority?.close();
      }
    });

  identity
    .command('issue')
    .description('issue an X509-SVID for a service account: writes svid.pem, svid-key.pem and bundle.pem')
    .requiredOption('--namespace <ns>', 'the namespace')
    .requiredOption('--service-account <sa>', 'the service account')
    .option('--ttl <duration>', 'lifetime of the SVID', `${DEFAULT_SVID_TTL_MS / 60_000}m`)
    .option('--out <dir>', 'where to write the files', '.')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText(
      'after',
      `
The key pair is generated here and its private key written to svid-key.pem (mode 0600): this
command is for tests and bootstrapping. Agents generate SVID keys in memory and never write them.

Exit status: 0 issued, 2 bad input.
Example: podgate identity issue --namespace payments --service-account api --ttl 30m --out ./svid`,
    )
    .action((options: { namespace: string; serviceAccount: string; ttl: string; out: string; stateDir?: string }) => {
      const ttlMs = parseTtl(options.ttl);
      withAuthority(options, (authority) => {
        const id = workloadId(authority.trustDomain, options.namespace, options.serviceAccount);
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const issued = authority.issue({ id, csrDer: createCsr(privateKey, id), ttlMs, requester: 'cli' });
        const out = resolve(options.out);
        try {
          mkdirSync(out, { recursive: true });
          writeFileSync(join(out, 'svid.pem'), issued.chainPem);
          writePrivate(join(out, 'svid-key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
          writeFileSync(join(out, 'bundle.pem'), authority.bundlePem());
        } catch (error) {
          throw new CliError('PODGATE_E_OUTPUT', `cannot write to ${out}: ${(error as Error).message}`, 'choose a writable --out directory');
        }
        output.out(`issued ${id.toString()}  serial ${issued.serialHex}  valid ${iso(issued.notBefore)} → ${iso(issued.notAfter)}`);
        output.out(`wrote ${join(out, 'svid.pem')}, ${join(out, 'svid-key.pem')} (0600), ${join(out, 'bundle.pem')}`);
      });
    });

  identity
    .command('inspect')
    .description('show an X509-SVID: SPIFFE ID, issuer, validity, chain status against a bundle, and every spec violation')
    .argument('<file>', 'a PEM file with the SVID (leaf first, then intermediates; a private key in it is checked against the leaf), or -')
    .option('--bundle <file>', 'trust bundle to verify the chain against: PEM, or SPIFFE bundle JSON (default: the authority\'s bundle when --state-dir is given)')
    .option('--trust-domain <name>', 'the trust domain --bundle is for (default: the one its roots name); with --state-dir it must be the authority\'s')
    .option('--state-dir <dir>', 'verify against the bundle of the authority in this directory')
    .option('--at <time>', 'judge validity at this RFC 3339 time instead of now')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', '\nExit status: 0 a valid SVID, within its validity (and trusted, when a bundle is given), 1 a violation, expired or not yet\nvalid, a key that is not the leaf\'s, or not trusted; 2 unreadable input.\nExample: podgate identity inspect svid.pem --bundle bundle.pem')
    .action((file: string, options: { bundle?: string; trustDomain?: string; stateDir?: string; at?: string; output: string }) => {
      if (options.output !== 'text' && options.output !== 'json') throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
      const now = options.at === undefined ? new Date() : atTime(options.at);
      let report: Inspection;
      try {
        report = inspect({ file, bundle: options.bundle, trustDomain: options.trustDomain, stateDir: options.stateDir, now });
      } catch (error) {
        throw asCliError(error);
      }
      if (options.output === 'json') output.out(JSON.stringify(report, null, 2));
      else for (const line of formatInspection(report)) output.out(line);
      const outsideValidity = now.getTime() < Date.parse(report.notBefore) || now.getTime() > Date.parse(report.notAfter);
      process.exitCode = report.violations.length > 0 || report.chain.status === 'untrusted' || report.keyProblem !== undefined || outsideValidity ? 1 : 0;
    });

  identity
    .command('bundle')
    .description('print the trust bundle: every CA that may still have live SVIDs')
    .option('--format <format>', 'pem, or jwks (a SPIFFE bundle)', 'pem')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText('after', '\nExample: podgate identity bundle --format jwks > bundle.json')
    .action((options: { format: string; stateDir?: string }) => {
      if (options.format !== 'pem' && options.format !== 'jwks') throw new CliError('PODGATE_E_USAGE', `unknown format "${options.format}"`, 'use pem or jwks');
      withAuthority(options, (authority) => {
        if (options.format === 'pem') process.stdout.write(authority.bundlePem());
        else output.out(authority.spiffeBundle().toJson());
      });
    });

  identity
    .command('token')
    .description('create a single-use join token with which an agent proves which node it runs on')
    .requiredOption('--node <name>', 'the node the agent runs on')
    .option('--ttl <duration>', 'how long the token may be used', '10m')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText('after', '\nThe token is printed once and stored only hashed.\nExample: podgate identity token --node worker-1')
    .action((options: { node: string; ttl: string; stateDir?: string }) => {
      const ttlMs = parseTtl(options.ttl);
      withAuthority(options, (authority) => {
        const token = authority.createJoinToken(options.node, ttlMs);
        output.out(token.token);
        output.err(`join token for ${token.agent.toString()}, single use, expires ${iso(token.expiresAt)}`);
      });
    });

  identity
    .command('serve')
    .description('serve the authority API over mutual TLS: agents attest with join tokens, then fetch SVIDs for the pods on their node')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8443')
    .option('-f, --filename <path>', 'cluster manifests: which pod runs on which node under which service account (repeatable)', collect, [])
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText(
      'after',
      `
Routes: POST /v1/attest (join token + CSR → node SVID), POST /v1/renew and POST /v1/svid (mutual
TLS with the node SVID), GET /v1/bundle. The server's own SVID and the CA rotation schedule
(prepare at half the CA's life, activate at five sixths, prune when the old SVIDs expired) are
kept by the server itself. Events are printed to stderr as JSON lines. Stop with Ctrl-C.

Example:
  podgate identity token --node worker-1 > token
  podgate identity serve --listen 127.0.0.1:8443 -f cluster/   (pods with spec.nodeName and serviceAccountName)`,
    )
    .action(async (options: { listen: string; filename: string[]; stateDir?: string }) => {
      const match = /^(.*):(\d+)$/.exec(options.listen);
      const port = match ? Number(match[2]) : NaN;
      if (!match || port > 65535) throw new CliError('PODGATE_E_USAGE', `--listen "${options.listen}" is not HOST:PORT`, 'e.g. --listen 127.0.0.1:8443');
      const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
      const pods = new StaticPodDirectory();
      if (options.filename.length > 0) {
        for (const pod of loadForEvaluation(options.filename, output).cluster.pods) pods.set(pod.namespace, pod.name, { serviceAccount: pod.serviceAccount, ...(pod.nodeName !== undefined ? { nodeName: pod.nodeName } : {}) });
      }
      const log = (event: object): void => output.err(JSON.stringify({ time: new Date().toISOString(), ...event }, (_, value: unknown) => (value instanceof Error ? value.message : typeof value === 'bigint' ? value.toString() : value)));
      let authority: Authority | undefined;
      let server: AuthorityServer | undefined;
      try {
        authority = Authority.open(stateDirOf(options), { pods, onEvent: (event) => log(event) });
        server = await AuthorityServer.start({ authority, host, port, onEvent: (event) => log(event) });
      } catch (error) {
        authority?.close();
        throw asCliError(error);
      }
      const running = { authority };
      output.err(`podgate: authority for ${authority.trustDomain.name} listening on ${server.url} (${options.filename.length === 0 ? 'no manifests: every pod request is refused' : 'pods from the manifests'})`);
      // The CA schedule, once a minute (the server follows bundle changes by itself).
      const maintenance = setInterval(() => {
        try {
          running.authority.maintain();
        } catch (error) {
          log({ type: 'maintenance-failed', error });
        }
      }, 60_000);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(maintenance);
      await server.close();
      authority.close();
      output.err('podgate: authority stopped');
    });

  const ca = identity.command('ca').description('the authority\'s CAs: status and rotation without an outage');
  ca.command('status')
    .description('list the CAs: prepared (in the bundle, not signing yet), active (signing), retired (in the bundle until its SVIDs expire)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action((options: { stateDir?: string }) => withAuthority(options, (authority) => authority.cas().forEach((status) => output.out(describeCa(status)))));
  ca.command('prepare')
    .description('create the next CA (or take the operator\'s) and publish it in the bundle; it signs nothing until activated')
    .option('--ca-cert <file>', 'the next CA or intermediate certificate (PEM), instead of a new podgate root')
    .option('--ca-key <file>', 'the private key of --ca-cert (PEM)')
    .option('--ca-bundle <file>', 'the root(s) to publish when --ca-cert is an intermediate (PEM)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText('after', '\nAgents receive the new bundle with their next renewal; `podgate identity ca activate` waits for that.\nAn authority started from an operator CA is not rotated automatically: `serve` reports ca-rotation-needed.')
    .action((options: { caCert?: string; caKey?: string; caBundle?: string; stateDir?: string }) => {
      const ca = operatorCa(options);
      withAuthority(options, (authority) => output.out(describeCa(authority.prepareRotation(ca ? { ca } : {}))));
    });
  ca.command('activate')
    .description('switch signing to the prepared CA; the old one stays in the bundle until its SVIDs expire')
    .option('--force', 'activate before every agent can have renewed with the new bundle (peers that have not would refuse the new SVIDs)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText('after', '\nActivation waits until the prepared CA has been in the bundle for one SVID lifetime: agents fetch the\nbundle with every renewal, so by then every agent trusts the new root.')
    .action((options: { force?: boolean; stateDir?: string }) => withAuthority(options, (authority) => output.out(describeCa(authority.activatePrepared({ force: options.force === true })))));
  ca.command('prune')
    .description('drop retired CAs whose SVIDs have all expired from the bundle')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action((options: { stateDir?: string }) =>
      withAuthority(options, (authority) => {
        const pruned = authority.pruneRetired();
        output.out(pruned.length === 0 ? 'nothing to prune' : `pruned CA ${pruned.join(', ')}`);
      }),
    );

  identity
    .command('deny')
    .description('deny-list an SVID by serial: the authority API refuses it, at the handshake and on connections already open, until it expires')
    .requiredOption('--serial <hex>', 'the serial, in hex as `openssl x509 -serial` prints it')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action((options: { serial: string; reason: string; stateDir?: string }) =>
      withAuthority(options, (authority) => {
        const record = authority.deny(options.serial, options.reason);
        output.out(`denied serial ${record.serial} until ${iso(new Date(record.notAfter))}`);
      }),
    );

  identity
    .command('audit')
    .description('list issued SVIDs (newest first), refused requests and the deny-list')
    .option('--limit <n>', 'at most this many issued SVIDs and refusals', '50')
    .option('--spiffe-id <id>', 'only SVIDs issued for this SPIFFE ID (refusals are all listed)')
    .option('-o, --output <format>', 'text or json (times in milliseconds since the epoch)', 'text')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action((options: { limit: string; spiffeId?: string; output: string; stateDir?: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError('PODGATE_E_USAGE', `--limit "${options.limit}" is not a positive integer`, 'e.g. --limit 100');
      if (options.output !== 'text' && options.output !== 'json') throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
      withAuthority(options, (authority) => {
        const issued = authority.issued({ limit, ...(options.spiffeId !== undefined ? { spiffeId: options.spiffeId } : {}) });
        const refusals = authority.refusals({ limit });
        const denied = authority.denied();
        if (options.output === 'json') return output.out(JSON.stringify({ issued, refusals, denied }, null, 2));
        const at = (ms: number): string => iso(new Date(ms));
        output.out(`issued (${issued.length}${issued.length === limit ? `, the newest ${limit}` : ''}):`);
        for (const record of issued) output.out(`  ${at(record.issuedAt)}  ${record.spiffeId}  serial ${record.serial}  ${record.kind} for ${record.requester}  until ${at(record.notAfter)}  CA ${record.caId}`);
        output.out(`refused (${refusals.length}):`);
        for (const record of refusals) output.out(`  ${at(record.at)}  ${record.kind}  ${record.requester}: ${record.detail}`);
        output.out(`deny-list (${denied.length}):`);
        for (const record of denied) output.out(`  serial ${record.serial}  denied ${at(record.deniedAt)}  until ${at(record.notAfter)}: ${record.reason}`);
      });
    });
}

function atTime(text: string): Date {
  const ns = parseTimestampNs(text);
  if (ns === undefined) throw new CliError('PODGATE_E_USAGE', `--at "${text}" is not an RFC 3339 time`, 'write it like 2026-11-26T12:00:00Z');
  return new Date(Number(ns / 1_000_000n));
}

export interface Inspection {
  readonly file: string;
  /** The time validity and the chain were judged at. */
  readonly checkedAt: string;
  readonly certificates: number;
  readonly spiffeId: string | undefined;
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly key: string;
  readonly keyProblem: string | undefined;
  readonly chain: { readonly status: 'trusted' | 'untrusted' | 'not-checked'; readonly bundle?: string; readonly code?: string; readonly message?: string };
  readonly violations: readonly { readonly code: string; readonly certificate: number; readonly message: string }[];
}

function keyDescription(certificate: Certificate): string {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${details?.namedCurve === 'prime256v1' ? 'P-256' : details?.namedCurve === 'secp384r1' ? 'P-384' : (details?.namedCurve ?? '')}`.trim();
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details?.modulusLength ?? ''}`.trim();
  return key.asymmetricKeyType ?? 'unknown';
}

/**
 * The bundle to verify against: a PEM or SPIFFE bundle file, or the authority's. A file does not
 * say whose bundle it is: the trust domain comes from --trust-domain, else from its roots'
 * `spiffe://td` IDs, never from the certificate being checked.
 */
function loadBundle(options: { bundle: string | undefined; stateDir: string | undefined; trustDomain: string | undefined }): { bundle: X509Bundle; name: string } | undefined {
  if (options.bundle !== undefined) {
    const bytes = readInput(options.bundle, 'bundle');
    const placeholder = TrustDomain.parse('bundle.invalid');
    const roots = bytes.toString('utf8').trimStart().startsWith('{') ? SpiffeBundle.parse(placeholder, bytes).x509.authorities : parseCertificates(bytes);
    const trustDomain = options.trustDomain !== undefined ? TrustDomain.parse(options.trustDomain) : bundleTrustDomain(roots, options.bundle);
    return { bundle: X509Bundle.of(trustDomain, roots), name: `${options.bundle} (trust domain ${trustDomain.name})` };
  }
  if (options.stateDir === undefined) return undefined;
  const stateDir = options.stateDir;
  return withAuthority({ stateDir }, (authority) => {
    if (options.trustDomain !== undefined && TrustDomain.parse(options.trustDomain).name !== authority.trustDomain.name) {
      throw new CliError('PODGATE_E_USAGE', `--trust-domain ${options.trustDomain} is not the trust domain of the authority in ${stateDir} (${authority.trustDomain.name})`, 'drop --trust-domain, or verify against that trust domain\'s roots with --bundle FILE');
    }
    return { bundle: authority.bundle(), name: `the authority in ${stateDir}` };
  });
}

function bundleTrustDomain(roots: readonly Certificate[], file: string): TrustDomain {
  const names = new Set<string>();
  for (const root of roots) {
    for (const uri of root.uris) {
      try {
        names.add(TrustDomain.parse(uri).name);
      } catch {
        // Not a SPIFFE ID: says nothing about the trust domain.
      }
    }
  }
  const [only] = names;
  if (names.size === 1 && only !== undefined) return TrustDomain.parse(only);
  throw new CliError('PODGATE_E_USAGE', `cannot tell which trust domain ${file} is for (its roots name ${names.size === 0 ? 'none' : [...names].join(', ')})`, 'say it with --trust-domain TD');
}

function inspect(options: { file: string; bundle: string | undefined; trustDomain: string | undefined; stateDir: string | undefined; now: Date }): Inspection {
  const bytes = readInput(options.file, 'SVID');
  let chain: Certificate[];
  try {
    chain = parseCertificates(bytes);
  } catch (error) {
    throw asCliError(error);
  }
  const leaf = chain[0];
  if (leaf === undefined) throw new CliError('PODGATE_E_INPUT', `${options.file} holds no certificate`, 'give a PEM file with CERTIFICATE blocks, leaf first');
  let id: SpiffeId | undefined;
  try {
    id = idFromCertificate(leaf);
  } catch {
    id = undefined;
  }
  const keyProblem = decodePem(bytes).some((block) => block.type.endsWith('PRIVATE KEY')) ? privateKeyProblem(bytes, leaf) : undefined;
  let chainStatus: Inspection['chain'] = { status: 'not-checked' };
  if (id !== undefined) {
    const loaded = loadBundle({ bundle: options.bundle, stateDir: options.stateDir, trustDomain: options.trustDomain });
    if (loaded !== undefined) {
      try {
        verifyX509Svid(chain, loaded.bundle, { now: options.now });
        chainStatus = { status: 'trusted', bundle: loaded.name };
      } catch (error) {
        if (!(error instanceof IdentityError)) throw error;
        chainStatus = { status: 'untrusted', bundle: loaded.name, code: error.code, message: error.message };
      }
    }
  } else if (options.bundle !== undefined) {
    chainStatus = { status: 'untrusted', bundle: options.bundle, code: 'PODGATE_E_SVID_NO_SPIFFE_ID', message: 'the leaf carries no SPIFFE ID, so no trust domain bundle applies' };
  }
  return {
    file: options.file,
    checkedAt: iso(options.now),
    certificates: chain.length,
    spiffeId: id?.toString(),
    subject: leaf.subject,
    issuer: leaf.issuer,
    serial: leaf.serialHex,
    notBefore: iso(leaf.notBefore),
    notAfter: iso(leaf.notAfter),
    key: keyDescription(leaf),
    keyProblem,
    chain: chainStatus,
    violations: svidSpecViolations(chain),
  };
}

/** Whether the private key in the file belongs to the leaf (checked on its own, whatever else is wrong). */
function privateKeyProblem(bytes: Buffer, leaf: Certificate): string | undefined {
  const block = decodePem(bytes).find((candidate) => candidate.type.endsWith('PRIVATE KEY'))!;
  let publicKey: Buffer;
  try {
    publicKey = createPublicKey(createPrivateKey({ key: block.der, format: 'der', type: block.type === 'EC PRIVATE KEY' ? 'sec1' : block.type === 'RSA PRIVATE KEY' ? 'pkcs1' : 'pkcs8' })).export({ format: 'der', type: 'spki' });
  } catch (error) {
    return `PODGATE_E_KEY_MALFORMED: cannot read the private key: ${(error as Error).message}`;
  }
  return publicKey.equals(leaf.spki) ? undefined : 'PODGATE_E_KEY_MISMATCH: the private key does not belong to the leaf certificate';
}

function validityNote(report: Inspection): string {
  const now = new Date(report.checkedAt);
  const before = Date.parse(report.notBefore);
  const after = Date.parse(report.notAfter);
  if (now.getTime() < before) return 'not valid yet';
  if (now.getTime() > after) return 'expired';
  const minutes = Math.floor((after - now.getTime()) / 60_000);
  return minutes >= 120 ? `expires in ${Math.floor(minutes / 60)}h` : `expires in ${minutes}m`;
}

function formatInspection(report: Inspection): string[] {
  const lines = [
    `file:        ${report.file} (${report.certificates} certificate${report.certificates === 1 ? '' : 's'})`,
    `spiffe id:   ${report.spiffeId ?? '(none)'}`,
    `subject:     ${report.subject === '' ? '(empty)' : report.subject}`,
    `issuer:      ${report.issuer === '' ? '(empty)' : report.issuer}`,
    `serial:      ${report.serial}`,
    `valid:       ${report.notBefore} → ${report.notAfter} (${validityNote(report)} at ${report.checkedAt})`,
    `key:         ${report.key}${report.keyProblem === undefined ? '' : `  PROBLEM ${report.keyProblem}`}`,
  ];
  const chain = report.chain;
  if (chain.status === 'trusted') lines.push(`chain:       trusted by ${chain.bundle}`);
  else if (chain.status === 'untrusted') lines.push(`chain:       NOT TRUSTED by ${chain.bundle}: ${chain.code}: ${chain.message}`);
  else lines.push('chain:       not checked (pass --bundle FILE or --state-dir DIR)');
  if (report.violations.length === 0) lines.push('violations:  none (every X509-SVID MUST rule holds)');
  else {
    lines.push(`violations:  ${report.violations.length}`);
    for (const violation of report.violations) lines.push(`  ${violation.code}: ${violation.message} (certificate ${violation.certificate}${violation.certificate === 0 ? ', the leaf' : ''})`);
  }
  return lines;
}
