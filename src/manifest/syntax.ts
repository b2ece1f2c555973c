/** Kubernetes name and label syntax, as apimachinery validates it. */

const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Returns why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'prefix before "/" must not be empty';
    if (prefix.length > 253) return 'prefix must be at most 253 characters';
    if (!DNS1123_SUBDOMAIN.test(prefix)) return `prefix "${prefix}" must be a lowercase DNS subdomain`;
  }
  if (name.length === 0) return 'name part must not be empty';
  if (name.length > 63) return 'name part must be at most 63 characters';
  if (!QUALIFIED_NAME_PART.test(name)) return 'name part must be alphanumeric, "-", "_" or ".", starting and ending with an alphanumeric character';
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'must be at most 63 characters';
  if (!QUALIFIED_NAME_PART.test(value)) return 'must be alphanumeric, "-", "_" or ".", starting and ending with an alphanumeric character';
  return undefined;
}

export function dnsSubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 253) return 'must be at most 253 characters';
  if (!DNS1123_SUBDOMAIN.test(name)) return 'must be lowercase alphanumeric, "-" or ".", starting and ending with an alphanumeric character';
  return undefined;
}

export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return 'must be at most 63 characters';
  if (!DNS1123_LABEL.test(name)) return 'must be lowercase alphanumeric or "-", starting and ending with an alphanumeric character';
  return undefined;
}

/** A named port (IANA_SVC_NAME): at most 15 characters, lowercase alphanumerics and single hyphens, at least one letter. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return 'must be 1 to 15 characters';
  if (!IANA_SVC_NAME.test(name)) return 'must be lowercase alphanumeric or "-", starting and ending with an alphanumeric character';
  if (name.includes('--')) return 'must not contain consecutive hyphens';
  if (!/[a-z]/.test(name)) return 'must contain at least one letter';
  return undefined;
}

/** FNV-1a over the text (with a salt for independent draws): stable across runs and machines. */
export function stableHash(text: string, salt = 0): number {
  let hash = (0x811c9dc5 ^ salt) >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Text made into a DNS label (an object name that fits everywhere): lower case, dashes, at most 63
 * characters. A longer text keeps its start and ends in a hash of the whole, so two long names that
 * differ only at the end stay different.
 */
export function toDnsLabel(text: string, fallback = 'x'): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (cleaned.length <= 63) return cleaned || fallback;
  return `${cleaned.slice(0, 55).replace(/-$/, '')}-${stableHash(cleaned).toString(36).padStart(7, '0').slice(0, 7)}`;
}

/** Code-unit order, the same in every locale: sorted output is the same wherever podgate runs. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
