/**
 * Reading and writing flow records as JSON lines. Bad lines (truncated, not JSON, wrong types,
 * longer than the limit) are skipped and reported with their line number; reading never throws
 * on content.
 */
import type { Readable } from 'node:stream';
import type { Issue } from '../manifest/issue.js';
import type { FlowRecord } from './model.js';

/** Lines longer than this are skipped without being held in memory. */
export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface ReadOptions {
  /** Named in issues. */
  readonly source?: string;
  readonly maxLineBytes?: number;
  /**
   * A cheap test on the raw line: false skips it without parsing (a filter's prefilter). It must
   * only reject lines the full test would reject too.
   */
  readonly prefilter?: (line: string) => boolean;
}

export interface ReadLine {
  readonly record: FlowRecord;
  readonly line: number;
  /** The line as read: the record's JSON text, so a store can keep it without serializing again. */
  readonly text: string;
}

/** Counts what a read skipped; `issues` keeps the first `keep` of them. */
export class SkipReport {
  skipped = 0;
  readonly issues: Issue[] = [];
  constructor(private readonly keep = 20) {}

  add(issue: Issue): void {
    this.skipped++;
    if (this.issues.length < this.keep) this.issues.push(issue);
  }

  /** Another report's lines (of a later part of the same input, whose line 1 is line `lineOffset + 1` here). */
  absorb(other: { readonly skipped: number; readonly issues: readonly Issue[] }, lineOffset: number): void {
    for (const issue of other.issues) if (this.issues.length < this.keep) this.issues.push(issue.line === undefined ? issue : { ...issue, line: issue.line + lineOffset });
    this.skipped += other.skipped;
  }

  /** One summary line for stderr, or undefined when nothing was skipped. */
  summary(): string | undefined {
    if (this.skipped === 0) return undefined;
    const shown = this.issues.map((issue) => `  ${issue.file ?? ''}:${issue.line ?? '?'}: ${issue.message}`).join('\n');
    const more = this.skipped > this.issues.length ? `\n  ... and ${this.skipped - this.issues.length} more` : '';
    return `podgate: warning PODGATE_W_FLOW_SKIPPED: skipped ${this.skipped} unreadable line${this.skipped === 1 ? '' : 's'}\n${shown}${more}`;
  }
}

const NEWLINE = 0x0a;

/** One line of input, or (text undefined) a line that was over the limit and discarded. */
export interface RawLine {
  readonly text: string | undefined;
  readonly bytes: number;
}

/**
 * Splits a byte stream into lines, one batch per chunk read, without ever holding more than
 * `maxLineBytes` of one line: the rest of an over-long line is discarded as it arrives. Batches keep
 * the per-line work synchronous, so a million lines are not a million trips through the event loop.
 */
export async function* lineBatches(input: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<RawLine[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const batch: RawLine[] = [];
    let start = 0;
    for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
      const bytes = pendingBytes + end - start;
      if (overflow || bytes > maxLineBytes) batch.push({ text: undefined, bytes });
      else if (pendingBytes === 0) batch.push({ text: buffer.toString('utf8', start, end), bytes });
      else {
        pending.push(buffer.subarray(start, end));
        batch.push({ text: Buffer.concat(pending).toString('utf8'), bytes });
      }
      pending = [];
      pendingBytes = 0;
      overflow = false;
      start = end + 1;
    }
    const rest = buffer.length - start;
    if (rest > 0) {
      pendingBytes += rest;
      if (pendingBytes > maxLineBytes) {
        overflow = true;
        pending = [];
      } else pending.push(buffer.subarray(start));
    }
    if (batch.length > 0) yield batch;
  }
  if (pendingBytes > 0) yield [overflow || pendingBytes > maxLineBytes ? { text: undefined, bytes: pendingBytes } : { text: Buffer.concat(pending).toString('utf8'), bytes: pendingBytes }];
}

/** `lineBatches`, one line at a time. */
export async function* lines(input: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<RawLine> {
  for await (const batch of lineBatches(input, maxLineBytes)) yield* batch;
}

/** Reads flow records a chunk at a time, skipping and reporting bad lines. Empty lines are ignored. */
export async function* readFlowBatches(input: Readable | AsyncIterable<Buffer | string>, report: SkipReport, options: ReadOptions = {}): AsyncGenerator<ReadLine[]> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const prefilter = options.prefilter;
  let line = 0;
  for await (const raw of lineBatches(input, maxLineBytes)) {
    const batch: ReadLine[] = [];
    for (const { text, bytes } of raw) {
      line++;
      if (text === undefined) {
        report.add(skip(options.source, line, `line is ${bytes} bytes, over the ${maxLineBytes}-byte limit`));
        continue;
      }
      if (prefilter !== undefined && !prefilter(text)) continue;
      const parsed = parseFlowLine(text);
      if (parsed === undefined) continue;
      if (typeof parsed === 'string') report.add(skip(options.source, line, parsed));
      else batch.push({ record: parsed, line, text });
    }
    if (batch.length > 0) yield batch;
  }
}

/** `readFlowBatches`, one record at a time. */
export async function* readFlowRecords(input: Readable | AsyncIterable<Buffer | string>, report: SkipReport, options: ReadOptions = {}): AsyncGenerator<ReadLine> {
  for await (const batch of readFlowBatches(input, report, options)) yield* batch;
}

function skip(file: string | undefined, line: number, message: string): Issue {
  return { code: 'PODGATE_W_FLOW_SKIPPED', severity: 'warning', path: '', message, hint: 'lines must be `hubble observe -o json` records, one JSON object per line', line, ...(file === undefined ? {} : { file }) };
}

/** A record, undefined for a blank line, or why the line is not a flow record. */
export function parseFlowLine(text: string): FlowRecord | string | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  return checkRecord(value);
}

type Shape = 'object' | 'string' | 'number' | 'boolean' | 'array';

type FieldShapes = readonly (readonly [field: string, shape: Shape])[];

/** The types podgate relies on; anything else may hold any value. Arrays, not maps: checked per line. */
const RECORD_FIELDS: FieldShapes = [
  ['flow', 'object'],
  ['lost_events', 'object'],
  ['node_status', 'object'],
  ['node_name', 'string'],
  ['time', 'string'],
];
const FLOW_FIELDS: FieldShapes = [
  ['time', 'string'],
  ['verdict', 'string'],
  ['IP', 'object'],
  ['l4', 'object'],
  ['l7', 'object'],
  ['source', 'object'],
  ['destination', 'object'],
  ['Type', 'string'],
  ['node_name', 'string'],
  ['traffic_direction', 'string'],
  ['drop_reason_desc', 'string'],
  ['is_reply', 'boolean'],
  ['event_type', 'object'],
  ['podgate', 'object'],
];
const ENDPOINT_FIELDS: FieldShapes = [
  ['namespace', 'string'],
  ['pod_name', 'string'],
  ['labels', 'array'],
  ['identity', 'number'],
  ['workloads', 'array'],
];

function shapeOf(value: unknown): Shape | 'null' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  return type === 'object' || type === 'string' || type === 'number' || type === 'boolean' ? type : 'other';
}

function checkFields(value: Record<string, unknown>, fields: FieldShapes, path: string): string | undefined {
  for (const [field, shape] of fields) {
    const actual = value[field];
    if (actual === undefined) continue;
    const got = shapeOf(actual);
    if (got !== shape) return `${path}${field} is ${got === 'null' ? 'null' : `a ${got}`}, expected a${shape === 'object' || shape === 'array' ? 'n' : ''} ${shape}`;
  }
  return undefined;
}

export function checkRecord(value: unknown): FlowRecord | string {
  if (shapeOf(value) !== 'object') return `expected a JSON object, got ${shapeOf(value)}`;
  const record = value as Record<string, unknown>;
  const top = checkFields(record, RECORD_FIELDS, '');
  if (top) return top;
  const flow = record['flow'] as Record<string, unknown> | undefined;
  if (flow !== undefined) {
    const problem = checkFields(flow, FLOW_FIELDS, 'flow.');
    if (problem) return problem;
    const source = flow['source'] as Record<string, unknown> | undefined;
    const destination = flow['destination'] as Record<string, unknown> | undefined;
    return (source && checkFields(source, ENDPOINT_FIELDS, 'flow.source.')) || (destination && checkFields(destination, ENDPOINT_FIELDS, 'flow.destination.')) || (record as FlowRecord);
  }
  if (record['lost_events'] === undefined && record['node_status'] === undefined && !Object.keys(record).some((key) => key.endsWith('_event') || key.endsWith('_events'))) {
    return 'no flow, lost_events or node_status in the record';
  }
  return record as FlowRecord;
}

/** One record as a JSON line (the same bytes `hubble observe -o json` would print for it, field order kept). */
export function formatFlowLine(record: FlowRecord): string {
  return JSON.stringify(record);
}
