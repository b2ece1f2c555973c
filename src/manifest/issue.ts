/** Every problem found in input is an Issue: data with a stable code, never an exception. */

export type Severity = 'error' | 'warning';

export interface Issue {
  /** Stable code, `PODGATE_E_*` for errors and `PODGATE_W_*` for warnings. */
  readonly code: string;
  readonly severity: Severity;
  /** Where in the object: `spec.ingress[0].from[1].podSelector`. */
  readonly path: string;
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** `Kind namespace/name` of the object the issue is in, when known. */
  readonly object?: string;
}

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** Renders a path the way kubectl does: `spec.ingress[0].from`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The inverse of formatPath: `spec.ingress[0]` becomes `['spec', 'ingress', 0]`. */
export function parsePath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const match of text.matchAll(/([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[3] !== undefined) out.push(JSON.parse(match[3]) as string);
  }
  return out;
}

export function severityOf(code: string): Severity {
  return code.startsWith('PODGATE_W_') ? 'warning' : 'error';
}

export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((issue) => issue.severity === 'error');
}

/** `file:line:column: error CODE: message (at path)` plus the hint on its own line. */
export function formatIssue(issue: Issue): string {
  const where = issue.file === undefined ? '' : `${issue.file}${issue.line === undefined ? '' : `:${issue.line}:${issue.column ?? 1}`}: `;
  const subject = issue.object === undefined ? '' : ` in ${issue.object}`;
  const at = issue.path === '' ? '' : ` (at ${issue.path})`;
  const hint = issue.hint === undefined ? '' : `\n    next: ${issue.hint}`;
  return `${where}${issue.severity} ${issue.code}${subject}${at}: ${issue.message}${hint}`;
}
