import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { opensslMissing, Scratch } from '../openssl-testing.js';
import { createRootCa } from '../ca/ca.js';
import * as der from '../ca/der.js';
import { signSvid } from '../ca/sign.js';
import { SpiffeId } from '../spiffe-id.js';
import { parseCertificate } from './certificate.js';
import { createCsr, MAX_CSR_BYTES, parseCsr } from './csr.js';
import { thrownCode } from '../testing.js';

const scratch = new Scratch();
after(() => scratch.cleanup());

const id = SpiffeId.parse('spiffe://example.org/ns/shop/sa/cart');
const NOW = Date.parse('2030-03-01T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A CSR made by the openssl CLI for a key it generates with `genpkey` arguments. */
function opensslCsr(name: string, genpkey: string[], reqArgs: string[] = []): Buffer {
  scratch.opensslOk('genpkey', ...genpkey, '-out', `${name}.key`);
  scratch.opensslOk('req', '-new', '-key', `${name}.key`, '-subj', '/O=test', '-outform', 'DER', '-out', `${name}.csr`, ...reqArgs);
  return scratch.read(`${name}.csr`);
}

describe('createCsr + parseCsr', () => {
  const accepted: { name: string; key: () => KeyObject; keyType: string }[] = [
    { name: 'ECDSA P-256', key: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, keyType: 'ecdsa-p256' },
    { name: 'ECDSA P-384', key: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, keyType: 'ecdsa-p384' },
    { name: 'RSA 2048', key: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, keyType: 'rsa-2048' },
    { name: 'Ed25519', key: () => generateKeyPairSync('ed25519').privateKey, keyType: 'ed25519' },
  ];
  for (const c of accepted) {
    it(`round-trips and openssl verifies a ${c.name} CSR`, async (t) => {
      const key = c.key();
      const csr = createCsr(key, id);
      const parsed = parseCsr(csr);
      assert.equal(parsed.keyType, c.keyType);
      assert.deepEqual(parsed.uris, [id.toString()]);
      const publicKey = createPublicKey(key);
      assert.ok(parsed.publicKey.equals(publicKey));
      assert.deepEqual(parsed.spki, publicKey.export({ type: 'spki', format: 'der' }));
      await t.test('openssl req -verify agrees', { skip: opensslMissing }, () => {
        scratch.write('rt.csr', csr);
        const out = scratch.opensslOk('req', '-inform', 'DER', '-in', 'rt.csr', '-verify', '-noout', '-text');
        assert.match(out, /URI:spiffe:\/\/example\.org\/ns\/shop\/sa\/cart/);
      });
    });
  }

  const refusedKeys: { name: string; key: () => KeyObject }[] = [
    { name: 'ECDSA P-521', key: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey },
    { name: 'secp256k1', key: () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey },
    { name: 'RSA 1024', key: () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey },
    { name: 'Ed448', key: () => generateKeyPairSync('ed448').privateKey },
  ];
  for (const c of refusedKeys) {
    it(`createCsr refuses a ${c.name} key`, () => {
      assert.equal(thrownCode(() => createCsr(c.key(), id)), 'PODGATE_E_CSR_KEY_TYPE');
    });
  }

  it('without an ID creates a CSR with no SAN request, which signSvid grants the policy ID', async (t) => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const csr = createCsr(key);
    const parsed = parseCsr(csr);
    assert.deepEqual(parsed.uris, []);
    assert.equal(parsed.keyType, 'ecdsa-p256');
    await t.test('openssl req -verify sees no URI', { skip: opensslMissing }, () => {
      scratch.write('unnamed.csr', csr);
      assert.doesNotMatch(scratch.opensslOk('req', '-inform', 'DER', '-in', 'unnamed.csr', '-verify', '-noout', '-text'), /URI:/);
    });
    const ca = createRootCa({ trustDomain: id.trustDomain, now: NOW, ttlMs: HOUR });
    const signed = signSvid({ ca, csrDer: csr, id, ttlMs: MINUTE, now: NOW, serial: 1n });
    assert.equal(signed.id.toString(), id.toString());
    assert.deepEqual(parseCertificate(signed.der).uris, [id.toString()]);
  });

  it('createCsr refuses a public key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal(thrownCode(() => createCsr(publicKey, id)), 'PODGATE_E_CSR_KEY_TYPE');
  });
});

describe('parseCsr on CSRs made by openssl', { skip: opensslMissing }, () => {
  const cases: { name: string; genpkey: string[]; req?: string[]; want: string; uris?: string[] }[] = [
    {
      name: 'P-256 with a URI and a DNS SAN',
      genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      req: ['-addext', 'subjectAltName=DNS:cart.example,URI:spiffe://example.org/ns/shop/sa/cart'],
      want: 'ok',
      uris: ['spiffe://example.org/ns/shop/sa/cart'],
    },
    { name: 'RSA 3072 without SAN', genpkey: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'], want: 'ok', uris: [] },
    {
      name: 'two URI SANs',
      genpkey: ['-algorithm', 'ED25519'],
      req: ['-addext', 'subjectAltName=URI:spiffe://example.org/a,URI:spiffe://example.org/b'],
      want: 'ok',
      uris: ['spiffe://example.org/a', 'spiffe://example.org/b'],
    },
    { name: 'P-521 key', genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'], want: 'PODGATE_E_CSR_KEY_TYPE' },
    { name: 'RSA 1024 key', genpkey: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], want: 'PODGATE_E_CSR_KEY_TYPE' },
    { name: 'Ed448 key', genpkey: ['-algorithm', 'ED448'], want: 'PODGATE_E_CSR_KEY_TYPE' },
    { name: 'RSA-PSS key', genpkey: ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'], want: 'PODGATE_E_CSR_KEY_TYPE' },
    {
      name: 'SHA-1 signature',
      genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      req: ['-sha1'],
      want: 'PODGATE_E_CSR_SIGNATURE_ALGORITHM',
    },
    {
      name: 'RSA-PSS padding on an RSA key',
      genpkey: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
      req: ['-sigopt', 'rsa_padding_mode:pss'],
      want: 'PODGATE_E_CSR_SIGNATURE_ALGORITHM',
    },
    {
      name: 'oversized URI SAN',
      genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      req: ['-addext', `subjectAltName=URI:spiffe://example.org/${'a'.repeat(3000)}`],
      want: 'PODGATE_E_CSR_SAN',
    },
  ];
  cases.forEach((c, i) => {
    it(c.name, () => {
      const csr = opensslCsr(`o${i}`, c.genpkey, c.req);
      assert.equal(thrownCode(() => parseCsr(csr)), c.want);
      if (c.uris !== undefined) assert.deepEqual(parseCsr(csr).uris, c.uris);
    });
  });
});

describe('parseCsr on damaged input', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const good = createCsr(key, id);
  const sanOffset = good.indexOf(Buffer.from('spiffe://'));
  const outer = der.readTlv(good, 0);
  const [info, algorithm, signature] = der.childrenOf(good, outer);

  // Three length octets with a leading zero: valid BER, never DER.
  const longFormHeader = (node: der.Tlv): Buffer => {
    const length = node.end - node.contentStart;
    return Buffer.of(node.tag, 0x83, 0, length >> 8, length & 0xff);
  };
  const flip = (at: number): Buffer => {
    const copy = Buffer.from(good);
    copy[at] = copy[at]! ^ 0x01;
    return copy;
  };
  const withSignatureOver = (infoBytes: Buffer, algorithmId: Buffer, signer: KeyObject, hash: string | null): Buffer =>
    der.sequence(infoBytes, algorithmId, der.bitString(sign(hash, infoBytes, signer)));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const rsaCsr = createCsr(rsa, id);
  const rsaInfo = der.childrenOf(rsaCsr, der.readTlv(rsaCsr, 0))[0]!;

  const cases: { name: string; input: () => Uint8Array; want: string }[] = [
    { name: 'empty', input: () => Buffer.alloc(0), want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'not DER', input: () => Buffer.from('hello, this is not a CSR'), want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'truncated by one byte', input: () => good.subarray(0, good.length - 1), want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'trailing byte', input: () => Buffer.concat([good, Buffer.of(0)]), want: 'PODGATE_E_CSR_MALFORMED' },
    // BER, not DER: the signed bytes are unchanged, so only the strict reader refuses it.
    { name: 'outer length not minimal', input: () => Buffer.concat([longFormHeader(outer), good.subarray(outer.contentStart)]), want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'too large', input: () => Buffer.alloc(MAX_CSR_BYTES + 1, 0x30), want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'SAN changed after signing', input: () => flip(sanOffset + 10), want: 'PODGATE_E_CSR_SIGNATURE' },
    { name: 'signature changed', input: () => flip(signature!.end - 3), want: 'PODGATE_E_CSR_SIGNATURE' },
    {
      name: 'signed by another key',
      input: () => withSignatureOver(good.subarray(info!.start, info!.end), good.subarray(algorithm!.start, algorithm!.end), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'sha256'),
      want: 'PODGATE_E_CSR_SIGNATURE',
    },
    {
      name: 'ECDSA algorithm label on an RSA key',
      input: () => withSignatureOver(rsaCsr.subarray(rsaInfo.start, rsaInfo.end), der.sequence(der.oid('1.2.840.10045.4.3.2')), rsa, 'sha256'),
      want: 'PODGATE_E_CSR_SIGNATURE_ALGORITHM',
    },
    {
      name: 'version 2',
      input: () => {
        const parts = der.childrenOf(good, info!);
        const infoBytes = der.sequence(der.integer(1n), ...parts.slice(1).map((p) => good.subarray(p.start, p.end)));
        return withSignatureOver(infoBytes, good.subarray(algorithm!.start, algorithm!.end), key, 'sha256');
      },
      want: 'PODGATE_E_CSR_MALFORMED',
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, () => {
      assert.equal(thrownCode(() => parseCsr(c.input())), c.want);
    });
  }

  it('every truncation and every single-byte change gives an IdentityError or a valid parse, never a crash', () => {
    let accepted = 0;
    for (let n = 0; n < good.length; n++) assert.notEqual(thrownCode(() => parseCsr(good.subarray(0, n))), 'ok');
    for (let at = 0; at < good.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = Buffer.from(good);
        copy[at] = copy[at]! ^ mask;
        if (thrownCode(() => parseCsr(copy)) === 'ok') accepted++;
      }
    }
    // ECDSA signatures are malleable only in ways a bit flip cannot produce; nothing damaged verifies.
    assert.equal(accepted, 0);
  });
});
