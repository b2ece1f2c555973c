/**
 * advise's input: Hubble JSON lines, or an observed-flows.tsv (4 tab-separated fields per line:
 * source namespace, source pod, destination namespace, destination pod), told apart by content.
 */
import type { Readable } from 'node:stream';
import { DEFAULT_MAX_LINE_BYTES, lineBatches, parseFlowLine, type SkipReport } from '../flow/jsonl.js';
import type { Issue } from '../manifest/issue.js';
import type { Advisor, PodPairRow } from './advise.js';

export type InputKind = 'json' | 'tsv';

/** How a text looks: TSV when its first non-blank line is not JSON and has exactly 4 tab-separated fields. */
export function detectInputKind(firstLine: string | undefined): InputKind {
  if (firstLine === undefined) return 'json';
  const trimmed = firstLine.trim();
  if (trimmed.startsWith('{')) return 'json';
  return firstLine.replace(/\r$/, '').split('\t').length === 4 ? 'tsv' : 'json';
}

/** jq's @tsv escapes, undone: \t, \n, \r, \\. */
export function unescapeTsvField(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\([\\tnr])/g, (_, character: string) => (character === 't' ? '\t' : character === 'n' ? '\n' : character === 'r' ? '\r' : '\\'));
}

export function parseTsvLine(line: string): PodPairRow | string {
  const fields = line.replace(/\r$/, '').split('\t');
  if (fields.length !== 4) return `expected 4 tab-separated fields (source namespace, source pod, destination namespace, destination pod), got ${fields.length}`;
  const [sourceNamespace, sourcePod, destinationNamespace, destinationPod] = fields.map(unescapeTsvField) as [string, string, string, string];
  return { sourceNamespace, sourcePod, destinationNamespace, destinationPod };
}

/** The first line with content (tabs count: the published pipeline prints lines of tabs only). */
function firstLineOf(text: string, atEnd: boolean): string | undefined {
  const lines = text.split('\n');
  const complete = atEnd ? lines : lines.slice(0, -1);
  return complete.find((line) => line.trim() !== '' || line.includes('\t'));
}

/** The kind of input the beginning of a text says it is (`head` may end in the middle of a line). */
export function kindOfHead(head: string): InputKind {
  return detectInputKind(firstLineOf(head, true));
}

/**
 * Feeds a byte stream into the advisor: JSON records, or TSV rows when the first non-blank line
 * says so. Bad lines are skipped into `report`. Returns the kind that was read.
 */
export async function feedStream(options: { input: Readable | AsyncIterable<Buffer | string>; advisor: Advisor; report: SkipReport; source: string }): Promise<InputKind> {
  const { advisor, report, source } = options;
  const iterator = (options.input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  // Read until the first line is complete, then replay what was read in front of the rest.
  const head: Buffer[] = [];
  let headText = '';
  let done = false;
  while (firstLineOf(headText, false) === undefined && headText.length < 1 << 20) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    headText += chunk.toString('utf8');
  }
  const firstLine = firstLineOf(headText, true);
  const kind = detectInputKind(firstLine);
  async function* replay(): AsyncGenerator<Buffer> {
    yield* head;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
  }
  if (kind === 'json') {
    await feedJsonLines({ input: replay(), advisor, report, source });
    return kind;
  }
  let line = 0;
  for await (const batch of lineBatches(replay(), 1 << 16)) {
    for (const raw of batch) {
      line++;
      if (raw.text === undefined) {
        report.add({ code: 'PODGATE_W_FLOW_SKIPPED', severity: 'warning', path: '', message: `line is ${raw.bytes} bytes, too long for a TSV row`, hint: 'observed-flows.tsv lines are four short fields', file: source, line });
        continue;
      }
      if (raw.text.trim() === '' && !raw.text.includes('\t')) continue;
      const row = parseTsvLine(raw.text);
      if (typeof row === 'string') report.add({ code: 'PODGATE_W_FLOW_SKIPPED', severity: 'warning', path: '', message: row, hint: 'observed-flows.tsv lines are: source namespace, source pod, destination namespace, destination pod, tab-separated', file: source, line });
      else advisor.addPodPair(row);
    }
  }
  return kind;
}

/**
 * JSON lines into the advisor (returns how many lines it read): a chunk is decoded once and cut into lines (no per-line decoding),
 * bad lines reported by number as readFlowRecords reports them, lines over the limit discarded as
 * they stream in. Replies (about 40% of a capture) are recognised without parsing: see isPlainReply.
 */
export async function feedJsonLines(options: { input: AsyncIterable<Buffer | string>; advisor: Advisor; report: SkipReport; source: string; maxLineBytes?: number }): Promise<number> {
  const { advisor, report, source } = options;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let line = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let overflow = false;
  const handle = (text: string): void => {
    line++;
    if (isPlainReply(text)) return advisor.addReply();
    const parsed = parseFlowLine(text);
    if (parsed === undefined) return;
    if (typeof parsed === 'string') report.add(skipIssue(source, line, parsed));
    else advisor.add(parsed);
  };
  const tooLong = (bytes: number): void => {
    line++;
    report.add(skipIssue(source, line, `line is ${bytes} bytes, over the ${maxLineBytes}-byte limit`));
  };
  for await (const chunk of options.input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const last = buffer.lastIndexOf(NEWLINE);
    if (last === -1) {
      carryBytes += buffer.length;
      if (carryBytes > maxLineBytes) {
        overflow = true;
        carry = [];
      } else if (!overflow) carry.push(buffer);
      continue;
    }
    // The first line may continue what earlier chunks started.
    const firstEnd = buffer.indexOf(NEWLINE);
    if (carryBytes > 0 || overflow) {
      const bytes = carryBytes + firstEnd;
      if (overflow || bytes > maxLineBytes) tooLong(bytes);
      else handle(Buffer.concat([...carry, buffer.subarray(0, firstEnd)]).toString('utf8'));
      carry = [];
      carryBytes = 0;
      overflow = false;
    } else if (firstEnd > maxLineBytes) tooLong(firstEnd);
    else handle(buffer.toString('utf8', 0, firstEnd));
    if (last > firstEnd) {
      const text = buffer.toString('utf8', firstEnd + 1, last);
      let start = 0;
      for (let end = text.indexOf('\n', start); ; end = text.indexOf('\n', start)) {
        const stop = end === -1 ? text.length : end;
        if (stop - start > maxLineBytes / 4 && Buffer.byteLength(text.slice(start, stop)) > maxLineBytes) tooLong(Buffer.byteLength(text.slice(start, stop)));
        else handle(text.slice(start, stop));
        if (end === -1) break;
        start = end + 1;
      }
    }
    const rest = buffer.length - last - 1;
    if (rest > 0) {
      carry.push(buffer.subarray(last + 1));
      carryBytes = rest;
      if (carryBytes > maxLineBytes) {
        overflow = true;
        carry = [];
      }
    }
  }
  if (overflow) tooLong(carryBytes);
  else if (carryBytes > 0) handle(Buffer.concat(carry).toString('utf8'));
  return line;
}

const NEWLINE = 0x0a;

function skipIssue(file: string, line: number, message: string): Issue {
  return { code: 'PODGATE_W_FLOW_SKIPPED', severity: 'warning', path: '', message, hint: 'lines must be `hubble observe -o json` records, one JSON object per line', line, file };
}

/**
 * A complete-looking flow line that says `"is_reply":true` and carries no DNS record: a reply,
 * which advise only counts. Parsing it would decide the same for a well-formed line; a damaged one
 * is counted as a reply instead of reported (the price of not parsing 40% of the input).
 */
export function isPlainReply(line: string): boolean {
  if (!line.startsWith('{"flow":{') || line.charCodeAt(line.length - 1) !== 0x7d) return false;
  // is_reply sits near the end of a flow in protojson's field order: search from the end.
  const at = line.lastIndexOf('"is_reply":');
  return at !== -1 && line.startsWith('true', at + 11) && line.charCodeAt(at - 1) !== 0x5c && !line.includes('"dns":');
}
