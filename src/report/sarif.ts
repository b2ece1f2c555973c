/**
 * SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format) for code scanning: GitHub,
 * GitLab and most CI systems show these results on the lines they point at. Pure: no I/O.
 */
import { isAbsolute, relative, sep } from 'node:path';

export type SarifLevel = 'error' | 'warning' | 'note';

export interface SarifRuleInput {
  readonly id: string;
  /** One line: shown as the rule's short description. */
  readonly description: string;
  /** Longer guidance: what to do about a result of this rule. */
  readonly help?: string;
  /** Level of a result that does not give one. */
  readonly level?: SarifLevel;
}

export interface SarifResultInput {
  readonly ruleId: string;
  readonly level: SarifLevel;
  readonly message: string;
  /** A path: relative paths are kept, absolute ones under `root` made relative. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export interface SarifOptions {
  /** The tool's name, `podgate`. */
  readonly tool: string;
  readonly rules: readonly SarifRuleInput[];
  readonly results: readonly SarifResultInput[];
  readonly version?: string;
  readonly informationUri?: string;
  /** The directory paths are relative to (the repository root in CI): becomes %SRCROOT%. */
  readonly root?: string;
}

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';

interface SarifLocation {
  physicalLocation: {
    artifactLocation: { uri: string; uriBaseId?: string };
    region?: { startLine: number; startColumn?: number };
  };
}

/** A SARIF log with one run. Results naming a rule not in `rules` get a rule of their own, so every ruleIndex is valid. */
export function toSarif(options: SarifOptions): object {
  const rules: { id: string; shortDescription: { text: string }; fullDescription: { text: string }; help: { text: string }; defaultConfiguration: { level: SarifLevel } }[] = [];
  const indexById = new Map<string, number>();
  const addRule = (rule: SarifRuleInput): number => {
    const known = indexById.get(rule.id);
    if (known !== undefined) return known;
    indexById.set(rule.id, rules.length);
    rules.push({
      id: rule.id,
      shortDescription: { text: rule.description },
      fullDescription: { text: rule.help ?? rule.description },
      help: { text: rule.help ?? rule.description },
      defaultConfiguration: { level: rule.level ?? levelOfCode(rule.id) },
    });
    return rules.length - 1;
  };
  for (const rule of options.rules) addRule(rule);
  const results = options.results.map((result) => {
    const ruleIndex = addRule({ id: result.ruleId, description: result.ruleId });
    const location = locationOf(result, options.root);
    return {
      ruleId: result.ruleId,
      ruleIndex,
      level: result.level,
      message: { text: result.message },
      ...(location ? { locations: [location] } : {}),
    };
  });
  const root = options.root === undefined ? undefined : directoryUri(options.root);
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: options.tool,
            // No default: podgate has no public home page to point to yet.
            ...(options.informationUri === undefined ? {} : { informationUri: options.informationUri }),
            ...(options.version === undefined ? {} : { version: options.version }),
            rules,
          },
        },
        ...(root ? { originalUriBaseIds: { [SRCROOT]: { uri: root } } } : {}),
        // Columns come from JavaScript string offsets.
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}

function levelOfCode(id: string): SarifLevel {
  return id.startsWith('PODGATE_W_') ? 'warning' : id.startsWith('PODGATE_E_') ? 'error' : 'warning';
}

function locationOf(result: SarifResultInput, root: string | undefined): SarifLocation | undefined {
  if (result.file === undefined || result.file === '' || result.file === '<stdin>') return undefined;
  const artifact = artifactOf(result.file, root);
  const line = result.line !== undefined && Number.isInteger(result.line) && result.line >= 1 ? result.line : undefined;
  const column = line !== undefined && result.column !== undefined && Number.isInteger(result.column) && result.column >= 1 ? result.column : undefined;
  return {
    physicalLocation: {
      artifactLocation: artifact,
      ...(line === undefined ? {} : { region: { startLine: line, ...(column === undefined ? {} : { startColumn: column }) } }),
    },
  };
}

/** Relative paths (what code scanning matches against the repository) wherever possible. */
function artifactOf(file: string, root: string | undefined): { uri: string; uriBaseId?: string } {
  if (!isAbsolute(file)) {
    const uri = encodePath(stripDotSlash(toSlashes(file)));
    return root === undefined ? { uri } : { uri, uriBaseId: SRCROOT };
  }
  if (root !== undefined) {
    const inside = relative(root, file);
    if (inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) return { uri: encodePath(toSlashes(inside)), uriBaseId: SRCROOT };
  }
  return { uri: fileUri(file) };
}

function toSlashes(path: string): string {
  return sep === '\\' ? path.replaceAll('\\', '/') : path;
}

function stripDotSlash(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

/** Percent-encodes what a URI path may not hold, keeping `/`. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function fileUri(absolute: string): string {
  const path = toSlashes(absolute);
  return `file://${path.startsWith('/') ? '' : '/'}${encodePath(path)}`;
}

function directoryUri(root: string): string {
  const uri = fileUri(root);
  return uri.endsWith('/') ? uri : `${uri}/`;
}
