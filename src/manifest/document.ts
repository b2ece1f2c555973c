/**
 * Turns YAML or JSON text (one or many documents, `kind: List` included) into plain objects that
 * remember where they came from, so every Issue can name a file, line and column.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { formatPath, type Issue, type Path } from './issue.js';

export interface SourceText {
  /** File name, `<stdin>`, or a synthetic name such as `corpus.json#cases[3]`. */
  readonly name: string;
  readonly text: string;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** One Kubernetes object as read from a source, with a way to find any of its fields in the text. */
export interface LocatedObject {
  readonly value: unknown;
  readonly source: string;
  /** Index of the YAML document within the source (0-based). */
  readonly documentIndex: number;
  /** Path of the object inside its document: `[]`, or `['items', 3]` for a List member. */
  readonly prefix: Path;
  locate(path: Path): Position | undefined;
}

const MAX_ALIAS_COUNT = 100;

/** Objects made in code (corpora, generated fixes, tests): no text behind them, so no positions. */
export function unlocatedObjects(values: readonly unknown[], source: string): LocatedObject[] {
  return values.map((value, index) => ({ value, source: `${source}[${index}]`, documentIndex: index, prefix: [], locate: () => undefined }));
}

/** Parses one source; a document with syntax errors yields Issues and no objects, the others still load. */
export function parseSource(source: SourceText): { objects: LocatedObject[]; issues: Issue[] } {
  const objects: LocatedObject[] = [];
  const issues: Issue[] = [];
  const json = tryJson(source.text);
  if (json.ok) {
    const locator = lazyYamlLocator(source.text);
    pushObjects({ value: json.value, source: source.name, documentIndex: 0, locate: locator, objects, issues });
    return { objects, issues };
  }
  const lineCounter = new LineCounter();
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(source.text, { lineCounter, uniqueKeys: true }) as Document.Parsed[];
  } catch (error) {
    issues.push(syntaxIssue(source.name, `cannot parse: ${String(error)}`));
    return { objects, issues };
  }
  if (!Array.isArray(documents)) documents = [documents];
  documents.forEach((document, documentIndex) => {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const position = error.linePos?.[0];
        issues.push({
          ...syntaxIssue(source.name, (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '')),
          ...(position ? { line: position.line, column: position.col } : {}),
        });
      }
      return;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      issues.push(syntaxIssue(source.name, `document ${documentIndex + 1}: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    if (value === null || value === undefined) return;
    const locate = (path: Path): Position | undefined => positionOf(document, lineCounter, path);
    pushObjects({ value, source: source.name, documentIndex, locate, objects, issues });
  });
  return { objects, issues };
}

function pushObjects(options: {
  value: unknown;
  source: string;
  documentIndex: number;
  locate: (path: Path) => Position | undefined;
  objects: LocatedObject[];
  issues: Issue[];
}): void {
  const { value, source, documentIndex, locate, objects, issues } = options;
  const make = (item: unknown, prefix: Path): LocatedObject => ({
    value: item,
    source,
    documentIndex,
    prefix,
    locate: (path) => locate([...prefix, ...path]) ?? locate(prefix),
  });
  if (Array.isArray(value)) {
    value.forEach((item, index) => objects.push(make(item, [index])));
    return;
  }
  if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && 'items' in value) {
    const items = value['items'];
    if (!Array.isArray(items)) {
      const position = locate(['items']);
      issues.push({
        code: 'PODGATE_E_TYPE',
        severity: 'error',
        path: 'items',
        message: `${value['kind']}.items must be a list`,
        hint: 'give the objects as a YAML sequence under items:',
        file: source,
        ...(position ? { line: position.line, column: position.column } : {}),
      });
      return;
    }
    items.forEach((item, index) => objects.push(make(item, ['items', index])));
    return;
  }
  objects.push(make(value, []));
}

function positionOf(document: Document, lineCounter: LineCounter, path: Path): Position | undefined {
  let node: unknown = document.contents;
  let last: Node | undefined = isNode(node) ? node : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      node = pair.value ?? pair.key;
      if (isNode(pair.key)) last = pair.key;
      if (isNode(node) && node !== pair.key) last = node;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (!isNode(node)) break;
      last = node;
    } else break;
  }
  const offset = last?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function lazyYamlLocator(text: string): (path: Path) => Position | undefined {
  let cached: { document: Document; lineCounter: LineCounter } | null | undefined;
  return (path) => {
    if (cached === undefined) {
      try {
        const lineCounter = new LineCounter();
        const [document] = parseAllDocuments(text, { lineCounter }) as Document.Parsed[];
        cached = document && document.errors.length === 0 ? { document, lineCounter } : null;
      } catch {
        cached = null;
      }
    }
    return cached ? positionOf(cached.document, cached.lineCounter, path) : undefined;
  };
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function syntaxIssue(file: string, message: string): Issue {
  return {
    code: 'PODGATE_E_SYNTAX',
    severity: 'error',
    path: formatPath([]),
    message,
    hint: 'fix the YAML/JSON syntax; other documents in the file were still read',
    file,
  };
}
