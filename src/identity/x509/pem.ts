/**
 * PEM blocks (RFC 7468) with Go `encoding/pem` leniency: text around and between blocks is
 * ignored, a block whose body is not base64 is skipped, RFC 1421 headers are skipped.
 */

export interface PemBlock {
  type: string;
  der: Buffer;
}

const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;

// Go's pem drops "Key: value" headers that sit above a blank line before the base64 body.
function stripHeaders(body: string): string {
  if (!/^[^\r\n]*:/.test(body)) return body;
  const blank = body.search(/\r?\n\r?\n/);
  return blank < 0 ? body : body.slice(blank).trimStart();
}

function strictBase64(body: string): Buffer | undefined {
  if (!BASE64_BODY.test(body)) return undefined;
  const compact = body.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || /=[^=]/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

/** Every well-formed PEM block in `text`, in order; malformed candidates are skipped. */
export function decodePem(text: string | Uint8Array): PemBlock[] {
  const source = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
  const blocks: PemBlock[] = [];
  // A type whose END line is absent after some point is absent after any later point: keeps this linear.
  const noEnd = new Set<string>();
  let at = 0;
  for (;;) {
    const begin = source.indexOf('-----BEGIN ', at);
    if (begin < 0) return blocks;
    const lineEnd = source.indexOf('\n', begin);
    if (lineEnd < 0) return blocks;
    const line = source.slice(begin + 11, lineEnd).replace(/\r$/, '');
    at = begin + 11;
    if (!line.endsWith('-----')) continue;
    const type = line.slice(0, -5);
    const endLine = `-----END ${type}-----`;
    if (noEnd.has(type)) continue;
    const end = source.indexOf(endLine, lineEnd);
    if (end < 0) {
      noEnd.add(type);
      continue;
    }
    const der = strictBase64(stripHeaders(source.slice(lineEnd + 1, end)));
    if (!der) continue;
    blocks.push({ type, der });
    at = end + endLine.length;
  }
}

/** One PEM block, base64 wrapped at 64 columns, ending in a newline. */
export function encodePem(type: string, der: Uint8Array): string {
  const body = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < body.length; i += 64) out += body.slice(i, i + 64) + '\n';
  return out + `-----END ${type}-----\n`;
}

/** CERTIFICATE blocks in order, for DER certificates or anything that carries its DER (a parsed `Certificate`). */
export function certificatesToPem(certs: Iterable<Uint8Array | { readonly der: Uint8Array }>): string {
  let out = '';
  for (const cert of certs) out += encodePem('CERTIFICATE', cert instanceof Uint8Array ? cert : cert.der);
  return out;
}
