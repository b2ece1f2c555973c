/**
 * The Hubble protobuf schema (proto/), loaded at run time with protobufjs, and the conversion
 * between the JSON form (the model) and protobuf messages, with protojson's rules: proto field
 * names, enum names, 64-bit integers as strings, Timestamps as RFC 3339, wrappers as bare values,
 * fields in declaration order, zero values omitted.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { formatTimestampNs, parseTimestampNs } from './model.js';

/** Where podgate's extensions travel inside flow.Flow on the wire; Cilium does not use the number. */
export const PODGATE_EXTENSION_FIELD = 510001;

function protoDirectory(): string {
  // dist/src/flow → ../../../proto from the compiled file, ../../proto from the sources.
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = resolve(directory, 'proto');
    if (existsSync(resolve(candidate, 'flow/flow.proto'))) return candidate;
    directory = dirname(directory);
  }
  throw new Error('proto/flow/flow.proto not found next to the podgate package');
}

let loaded: protobuf.Root | undefined;

/** The schema: observer.proto (with flow and relay) plus podgate's flow extensions. */
export function hubbleSchema(): protobuf.Root {
  if (loaded) return loaded;
  const directory = protoDirectory();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : resolve(directory, target));
  root.loadSync(['observer/observer.proto', 'podgate/flow_extensions.proto'], { keepCase: true });
  root.lookupType('flow.Flow').add(new protobuf.Field('podgate', PODGATE_EXTENSION_FIELD, 'podgate.flow.v1.FlowExtensions'));
  root.resolveAll();
  loaded = root;
  return root;
}

export function messageType(name: string): protobuf.Type {
  return hubbleSchema().lookupType(name);
}

const WRAPPERS = new Set(['BoolValue', 'StringValue', 'BytesValue', 'Int32Value', 'UInt32Value', 'Int64Value', 'UInt64Value', 'FloatValue', 'DoubleValue'].map((name) => `.google.protobuf.${name}`));
const TIMESTAMP = '.google.protobuf.Timestamp';
const FIELD_MASK = '.google.protobuf.FieldMask';
const ANY = '.google.protobuf.Any';
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

type Json = Record<string, unknown>;

/** JSON (protojson form) to a protobufjs message of `type`. Fields the schema lacks are left out. */
export function fromJson(type: protobuf.Type, json: Json): protobuf.Message {
  return type.fromObject(plainFromJson(type, json));
}

function plainFromJson(type: protobuf.Type, json: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (field === undefined || value === null || value === undefined) continue;
    out[key] = field.repeated && Array.isArray(value) ? value.map((item) => valueFromJson(field, item)) : valueFromJson(field, value);
  }
  return out;
}

function valueFromJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const name = resolved.fullName;
    if (name === TIMESTAMP) {
      const ns = typeof value === 'string' ? parseTimestampNs(value) : undefined;
      if (ns === undefined) return undefined;
      return { seconds: String(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) };
    }
    if (WRAPPERS.has(name)) return { value };
    if (name === FIELD_MASK) return { paths: typeof value === 'string' && value !== '' ? value.split(',').map((path) => path.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)) : [] };
    if (name === ANY) return undefined; // Resolving arbitrary Any types is not supported; dropped.
    return typeof value === 'object' ? plainFromJson(resolved, value as Json) : undefined;
  }
  return value;
}

/** A protobufjs message of `type` to JSON in protojson form. */
export function toJson(type: protobuf.Type, message: protobuf.Message | Json): Json {
  const plain = type.toObject(message as protobuf.Message, { enums: String, longs: String, bytes: String, defaults: false, arrays: false, objects: false, oneofs: false });
  return jsonFromPlain(type, plain);
}

function jsonFromPlain(type: protobuf.Type, plain: Json): Json {
  const out: Json = {};
  for (const field of type.fieldsArray) {
    const value = plain[field.name];
    if (value === undefined || value === null) continue;
    if (field.repeated) {
      if (!Array.isArray(value) || value.length === 0) continue;
      out[field.name] = value.map((item) => valueToJson(field, item));
      continue;
    }
    const converted = valueToJson(field, value);
    if (converted !== undefined && !isZero(field, converted)) out[field.name] = converted;
  }
  return out;
}

/** protojson omits proto3 scalars at their zero value (messages and wrappers are always kept). */
function isZero(field: protobuf.Field, value: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false;
  if (field.partOf !== null && field.partOf !== undefined) return false;
  if (field.resolvedType instanceof protobuf.Enum) return field.resolvedType.values[value as string] === 0;
  return value === 0 || value === '' || value === false || value === '0';
}

function valueToJson(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const object = value as Json;
    const name = resolved.fullName;
    if (name === TIMESTAMP) return formatTimestampNs(BigInt(String(object['seconds'] ?? 0)) * 1_000_000_000n + BigInt(Number(object['nanos'] ?? 0)));
    if (WRAPPERS.has(name)) return object['value'] ?? wrapperZero(name);
    if (name === FIELD_MASK) return ((object['paths'] as string[] | undefined) ?? []).map((path) => path.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase())).join(',');
    if (name === ANY) return undefined;
    return jsonFromPlain(resolved, object);
  }
  if (LONG_TYPES.has(field.type)) return String(value);
  return value;
}

function wrapperZero(name: string): unknown {
  if (name.endsWith('BoolValue')) return false;
  if (name.endsWith('StringValue') || name.endsWith('BytesValue')) return '';
  if (name.endsWith('Int64Value')) return '0';
  return 0;
}

export function encodeJson(type: protobuf.Type, json: Json): Uint8Array {
  return type.encode(fromJson(type, json)).finish();
}

export function decodeJson(type: protobuf.Type, bytes: Uint8Array): Json {
  return toJson(type, type.decode(bytes));
}
