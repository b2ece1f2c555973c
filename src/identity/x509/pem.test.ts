import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificatesToPem, decodePem, encodePem } from './pem.js';

test('PEM decoding follows Go encoding/pem leniency', () => {
  const der = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  const block = encodePem('CERTIFICATE', der);
  assert.ok(block.split('\n').every((line) => line.length <= 64));
  const table: { name: string; text: string | Uint8Array; types: string[] }[] = [
    { name: 'one block', text: block, types: ['CERTIFICATE'] },
    { name: 'bytes', text: Buffer.from(block), types: ['CERTIFICATE'] },
    { name: 'text around and between', text: `intro\n${block}middle\n${encodePem('PRIVATE KEY', der)}outro`, types: ['CERTIFICATE', 'PRIVATE KEY'] },
    { name: 'CRLF', text: block.replace(/\n/g, '\r\n'), types: ['CERTIFICATE'] },
    { name: 'headers', text: '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n', types: ['RSA PRIVATE KEY'] },
    { name: 'no blocks', text: 'Not PEM encoded file', types: [] },
    { name: 'empty', text: '', types: [] },
    { name: 'missing END', text: '-----BEGIN CERTIFICATE-----\nAAEC\n', types: [] },
    { name: 'mismatched END', text: '-----BEGIN CERTIFICATE-----\nAAEC\n-----END KEY-----\n', types: [] },
    { name: 'bad base64 skipped, next kept', text: `-----BEGIN X-----\n!!!!\n-----END X-----\n${block}`, types: ['CERTIFICATE'] },
    { name: 'bad padding', text: '-----BEGIN X-----\nAA=A\n-----END X-----\n', types: [] },
  ];
  for (const row of table) assert.deepEqual(decodePem(row.text).map((b) => b.type), row.types, row.name);
  assert.ok(decodePem(block)[0]?.der.equals(der));
});

test('many unterminated BEGIN lines are scanned once (no quadratic blow-up)', () => {
  const text = '-----BEGIN CERTIFICATE-----\n'.repeat(50_000) + encodePem('KEY', Buffer.from([1]));
  assert.deepEqual(decodePem(text).map((b) => b.type), ['KEY']);
});

test('certificatesToPem writes one CERTIFICATE block per DER or parsed certificate, in order', () => {
  const a = Buffer.from([0x30, 0x01, 0x01]);
  const b = Buffer.from([0x30, 0x01, 0x02]);
  assert.equal(certificatesToPem([a, { der: b }]), encodePem('CERTIFICATE', a) + encodePem('CERTIFICATE', b));
  assert.equal(certificatesToPem([]), '');
});
