/** `podgate identity` as an operator runs it: init, issue, inspect, bundle, rotation, bad input. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { rmSync } from 'node:fs';
import { KeyUsage, parseCertificates } from '../../identity/x509/certificate.js';
import { makeCertificate } from '../../identity/testing.js';
import { AgentClient } from '../../authority/api/client.js';
import { SpiffeBundle } from '../../identity/bundle/spiffe-bundle.js';
import { X509Bundle } from '../../identity/bundle/x509-bundle.js';
import { TrustDomain } from '../../identity/spiffe-id.js';
import { defaultStateDir } from './identity.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const work = mkdtempSync(join(tmpdir(), 'podgate-identity-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const noStackTrace = /at .*\.js:\d+/;

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'identity', ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const state = join(work, 'authority');

test('init, issue, inspect and bundle work together', () => {
  const init = run(['init', '--trust-domain', 'example.org', '--state-dir', state]);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /authority for trust domain example\.org/);
  assert.match(init.stdout, /CA 1 {2}active/);
  const [keyFile] = readdirSync(join(state, 'ca'));
  assert.equal(statSync(join(state, 'ca', keyFile!)).mode & 0o777, 0o600);

  const out = join(work, 'svid');
  const issue = run(['issue', '--namespace', 'payments', '--service-account', 'api', '--ttl', '30m', '--out', out, '--state-dir', state]);
  assert.equal(issue.status, 0, issue.stderr);
  assert.match(issue.stdout, /issued spiffe:\/\/example\.org\/ns\/payments\/sa\/api/);
  assert.equal(statSync(join(out, 'svid-key.pem')).mode & 0o777, 0o600);
  const [leaf] = parseCertificates(readFileSync(join(out, 'svid.pem')));
  assert.deepEqual(leaf!.uris, ['spiffe://example.org/ns/payments/sa/api']);
  const lifetime = leaf!.notAfter.getTime() - leaf!.notBefore.getTime();
  // 30 minutes plus the backdating for clock skew.
  assert.ok(lifetime >= 30 * 60_000 && lifetime <= 31 * 60_000, `lifetime ${lifetime} ms`);

  const inspect = run(['inspect', join(out, 'svid.pem'), '--bundle', join(out, 'bundle.pem')]);
  assert.equal(inspect.status, 0, inspect.stdout + inspect.stderr);
  assert.match(inspect.stdout, /spiffe id: {3}spiffe:\/\/example\.org\/ns\/payments\/sa\/api/);
  assert.match(inspect.stdout, /chain: {7}trusted by/);
  assert.match(inspect.stdout, /violations: {2}none/);

  const later = run(['inspect', join(out, 'svid.pem'), '--bundle', join(out, 'bundle.pem'), '--at', '2099-01-01T00:00:00Z', '-o', 'json']);
  assert.equal(later.status, 1);
  const report = JSON.parse(later.stdout) as { chain: { status: string; code: string } };
  assert.equal(report.chain.status, 'untrusted');
  assert.equal(report.chain.code, 'PODGATE_E_SVID_EXPIRED');

  const jwks = run(['bundle', '--format', 'jwks', '--state-dir', state]);
  assert.equal(jwks.status, 0, jwks.stderr);
  const bundle = SpiffeBundle.parse(TrustDomain.parse('example.org'), jwks.stdout);
  assert.equal(bundle.x509.authorities.length, 1);
  const pem = run(['bundle', '--state-dir', state]);
  assert.equal(pem.stdout, readFileSync(join(out, 'bundle.pem'), 'utf8'));
});

test('inspect lists every spec violation of a bad SVID and exits 1', () => {
  const fixture = join(ROOT, '..', 'shared', 'fixtures', 'spiffe', 'go-spiffe', 'svid', 'x509svid', 'testdata', 'wrong-leaf-cert-sign.pem');
  const result = run(['inspect', fixture]);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /PODGATE_E_SVID_LEAF_KEY_CERT_SIGN/);
  assert.match(result.stdout, /chain: {7}not checked/);
});

test('CA rotation: prepare publishes the next CA before it signs, activate switches', () => {
  const dir = join(work, 'rotating');
  assert.equal(run(['init', '--state-dir', dir]).status, 0);
  const prepared = run(['ca', 'prepare', '--state-dir', dir]);
  assert.equal(prepared.status, 0, prepared.stderr);
  assert.match(prepared.stdout, /prepared/);
  assert.equal(parseCertificates(run(['bundle', '--state-dir', dir]).stdout).length, 2);
  const early = run(['ca', 'activate', '--state-dir', dir]);
  assert.equal(early.status, 2);
  assert.match(early.stderr, /PODGATE_E_CA_ROTATION/);
  assert.match(early.stderr, /--force/);
  const activated = run(['ca', 'activate', '--force', '--state-dir', dir]);
  assert.equal(activated.status, 0, activated.stderr);
  const status = run(['ca', 'status', '--state-dir', dir]).stdout;
  assert.match(status, /CA 1 {2}retired/);
  assert.match(status, /CA 2 {2}active/);
});

test('bad input: a clear coded error, exit 2, never a stack trace', () => {
  const cases: { args: string[]; code: RegExp; env?: Record<string, string> }[] = [
    { args: ['init', '--state-dir', state], code: /PODGATE_E_AUTHORITY_EXISTS/ },
    { args: ['init', '--trust-domain', 'Bad_Domain!', '--state-dir', join(work, 'bad-td')], code: /PODGATE_E_SPIFFE_ID/ },
    { args: ['issue', '--namespace', 'x', '--service-account', 'y', '--state-dir', join(work, 'missing')], code: /PODGATE_E_AUTHORITY_NOT_INITIALIZED/ },
    { args: ['issue', '--namespace', 'x', '--service-account', 'y', '--ttl', 'soon', '--state-dir', state], code: /PODGATE_E_USAGE/ },
    { args: ['issue', '--namespace', 'x/y', '--service-account', 'y', '--state-dir', state], code: /PODGATE_E_SPIFFE_ID/ },
    { args: ['inspect', join(work, 'nothing-here.pem')], code: /PODGATE_E_INPUT/ },
    { args: ['bundle', '--format', 'xml', '--state-dir', state], code: /PODGATE_E_USAGE/ },
    { args: ['deny', '--serial', 'zz', '--reason', 'x', '--state-dir', state], code: /PODGATE_E_SERIAL/ },
    { args: ['init', '--ca-cert', join(work, 'x.pem'), '--state-dir', join(work, 'half')], code: /PODGATE_E_USAGE/ },
  ];
  const garbage = join(work, 'garbage.pem');
  writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  cases.push({ args: ['inspect', garbage], code: /PODGATE_E_X509_MALFORMED/ });
  for (const { args, code, env } of cases) {
    const result = run(args, env);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, code, args.join(' '));
    assert.match(result.stderr, /next: /, args.join(' '));
    assert.doesNotMatch(result.stderr, noStackTrace, args.join(' '));
  }
});

test('an authority refuses to start when its CA key is readable by others', () => {
  const dir = join(work, 'loose');
  assert.equal(run(['init', '--state-dir', dir]).status, 0);
  const [keyFile] = readdirSync(join(dir, 'ca'));
  chmodSync(join(dir, 'ca', keyFile!), 0o644);
  const result = run(['bundle', '--state-dir', dir]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /PODGATE_E_CA_KEY_PERMISSIONS/);
  assert.match(result.stderr, /chmod 600/);
});

test('the state directory defaults to PODGATE_STATE_DIR, then the XDG state directory', () => {
  assert.equal(defaultStateDir({ PODGATE_STATE_DIR: '/srv/podgate' }), '/srv/podgate');
  assert.equal(defaultStateDir({ XDG_STATE_HOME: '/home/u/.state' }), '/home/u/.state/podgate');
  assert.match(defaultStateDir({}), /\.local\/state\/podgate$/);
  const viaEnv = run(['init', '--trust-domain', 'env.example'], { PODGATE_STATE_DIR: join(work, 'from-env') });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, /from-env/);
});

test('serve: an agent attests with a join token, then gets SVIDs only for the pods on its node', async () => {
  const dir = join(work, 'served');
  assert.equal(run(['init', '--trust-domain', 'lab.example', '--state-dir', dir]).status, 0);
  const token = run(['token', '--node', 'worker-1', '--state-dir', dir]).stdout.trim();
  const manifests = join(work, 'pods.yaml');
  writeFileSync(
    manifests,
    ['worker-1', 'worker-2']
      .map((node, index) => `apiVersion: v1\nkind: Pod\nmetadata: {name: api-${index}, namespace: shop}\nspec: {nodeName: ${node}, serviceAccountName: api, containers: [{name: c, image: x}]}\nstatus: {podIP: 10.0.0.${index + 1}}\n`)
      .join('---\n'),
  );
  const child = spawn(process.execPath, [BIN, 'identity', 'serve', '--listen', '127.0.0.1:0', '-f', manifests, '--state-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /listening on (https:\/\/\S+)/.exec(text);
        if (match) resolve(match[1]!);
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${text}`)));
    });
    const trustBundle = X509Bundle.parse(TrustDomain.parse('lab.example'), run(['bundle', '--state-dir', dir]).stdout);
    const agent = await AgentClient.attest({ url, token, trustBundle });
    try {
      assert.equal(agent.nodeId.toString(), 'spiffe://lab.example/podgate/agent/worker-1');
      const source = await agent.workloadSource({ namespace: 'shop', pod: 'api-0' });
      assert.equal(source.getX509Svid().id.toString(), 'spiffe://lab.example/ns/shop/sa/api');
      source.close();
      await assert.rejects(agent.workloadSource({ namespace: 'shop', pod: 'api-1' }), (error: { code?: string }) => error.code === 'PODGATE_E_NOT_AUTHORIZED');
    } finally {
      agent.close();
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  const audit = run(['audit', '-o', 'json', '--state-dir', dir]);
  const report = JSON.parse(audit.stdout) as { issued: { spiffeId: string }[]; refusals: unknown[] };
  assert.ok(report.issued.some((record) => record.spiffeId === 'spiffe://lab.example/ns/shop/sa/api'));
  assert.equal(report.refusals.length, 1);
});

test('issue writes the key 0600 even over an existing file or a planted symbolic link', () => {
  const out = join(work, 'rewrite');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'svid-key.pem'), 'old', { mode: 0o644 });
  chmodSync(join(out, 'svid-key.pem'), 0o644);
  const args = ['issue', '--namespace', 'a', '--service-account', 'b', '--out', out, '--state-dir', state];
  assert.equal(run(args).status, 0);
  assert.equal(statSync(join(out, 'svid-key.pem')).mode & 0o777, 0o600);
  const elsewhere = join(work, 'elsewhere.txt');
  writeFileSync(elsewhere, 'untouched');
  rmSync(join(out, 'svid-key.pem'));
  symlinkSync(elsewhere, join(out, 'svid-key.pem'));
  assert.equal(run(args).status, 0);
  assert.equal(readFileSync(elsewhere, 'utf8'), 'untouched');
  assert.ok(!lstatSync(join(out, 'svid-key.pem')).isSymbolicLink());
  assert.equal(statSync(join(out, 'svid-key.pem')).mode & 0o777, 0o600);
});

test('inspect takes the trust domain from the bundle, not from the certificate it checks', () => {
  // A CA of example.org signs a leaf that claims bank.example: the example.org bundle must not vouch for it.
  const now = new Date();
  const root = makeCertificate({ commonName: 'root', uris: ['spiffe://example.org'], isCA: true, keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + 3_600_000) });
  const leaf = makeCertificate({ commonName: '', issuer: root, uris: ['spiffe://bank.example/ns/vault/sa/admin'], sanCritical: true, isCA: false, keyUsage: KeyUsage.digitalSignature, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + 3_600_000) });
  writeFileSync(join(work, 'foreign-leaf.pem'), leaf.pem);
  writeFileSync(join(work, 'example-bundle.pem'), root.pem);
  const result = run(['inspect', join(work, 'foreign-leaf.pem'), '--bundle', join(work, 'example-bundle.pem'), '-o', 'json']);
  assert.equal(result.status, 1, result.stdout + result.stderr);
  const report = JSON.parse(result.stdout) as { chain: { status: string; code: string; bundle: string } };
  assert.equal(report.chain.status, 'untrusted');
  assert.equal(report.chain.code, 'PODGATE_E_SVID_NO_BUNDLE');
  assert.match(report.chain.bundle, /trust domain example\.org/);
  // The same leaf against its own trust domain's (here: the same) roots, said explicitly, verifies.
  const explicit = run(['inspect', join(work, 'foreign-leaf.pem'), '--bundle', join(work, 'example-bundle.pem'), '--trust-domain', 'bank.example']);
  assert.equal(explicit.status, 0, explicit.stdout + explicit.stderr);
});

test('inspect --state-dir: --trust-domain must be the authority\'s, never silently ignored', () => {
  const svid = join(work, 'svid', 'svid.pem');
  const same = run(['inspect', svid, '--state-dir', state, '--trust-domain', 'example.org']);
  assert.equal(same.status, 0, same.stdout + same.stderr);
  assert.match(same.stdout, /chain: {7}trusted by the authority in/);
  const other = run(['inspect', svid, '--state-dir', state, '--trust-domain', 'bank.example']);
  assert.equal(other.status, 2, other.stdout + other.stderr);
  assert.match(other.stderr, /error PODGATE_E_USAGE: --trust-domain bank\.example is not the trust domain of the authority in .* \(example\.org\)/);
  assert.match(other.stderr, /--bundle FILE/);
  assert.doesNotMatch(other.stderr, noStackTrace);
});

test('inspect: an unreadable --bundle is a coded error, not an internal one', () => {
  const svid = join(work, 'svid', 'svid.pem');
  const junk = join(work, 'junk-bundle.pem');
  writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const badJson = join(work, 'bad-bundle.json');
  writeFileSync(badJson, '{"keys":[{"use":"x509-svid","kty":"EC","crv":"P-256","x":"AA","y":"AA","x5c":["AAAA"]}]}');
  for (const bundle of [junk, badJson]) {
    const result = run(['inspect', svid, '--bundle', bundle]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /error PODGATE_E_(X509|BUNDLE)_/);
    assert.doesNotMatch(result.stderr, /PODGATE_E_INTERNAL|at .*\.js:\d+/);
  }
});

test('inspect: exit 1 outside the validity window even without a bundle; a foreign key is reported whatever else is wrong', () => {
  const svid = join(work, 'svid', 'svid.pem');
  const late = run(['inspect', svid, '--at', '2099-01-01T00:00:00Z']);
  assert.equal(late.status, 1, late.stdout);
  assert.match(late.stdout, /\(expired at 2099/);
  const fixtures = join(ROOT, '..', 'shared', 'fixtures', 'spiffe', 'go-spiffe', 'svid', 'x509svid', 'testdata');
  const mixed = join(work, 'ca-leaf-with-foreign-key.pem');
  writeFileSync(mixed, readFileSync(join(fixtures, 'wrong-leaf-ca-true.pem'), 'utf8') + readFileSync(join(fixtures, 'key-pkcs8-ecdsa.pem'), 'utf8'));
  const result = run(['inspect', mixed, '-o', 'json']);
  assert.equal(result.status, 1);
  const report = JSON.parse(result.stdout) as { keyProblem: string; violations: { code: string }[] };
  assert.match(report.keyProblem, /PODGATE_E_KEY_MISMATCH/);
  assert.ok(report.violations.some((violation) => violation.code === 'PODGATE_E_SVID_LEAF_CA'));
});

test('audit prints issued SVIDs, refusals and the deny-list with times; init wants a bare trust domain', () => {
  const issued = run(['issue', '--namespace', 'audit', '--service-account', 'me', '--out', join(work, 'audited'), '--state-dir', state]);
  const serial = /serial ([0-9a-f]+)/.exec(issued.stdout)![1]!;
  assert.equal(run(['deny', '--serial', serial, '--reason', 'key leaked', '--state-dir', state]).status, 0);
  const text = run(['audit', '--state-dir', state]).stdout;
  assert.match(text, new RegExp(`spiffe://example\\.org/ns/audit/sa/me {2}serial ${serial} {2}direct for cli`));
  assert.match(text, new RegExp(`deny-list \\(1\\):\\n {2}serial ${serial} {2}denied 20\\d\\d-.*: key leaked`));
  assert.equal(run(['audit', '-o', 'yaml', '--state-dir', state]).status, 2);
  const bad = run(['init', '--trust-domain', 'spiffe://example.org/x', '--state-dir', join(work, 'td-with-path')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /not a bare trust domain name/);
});
