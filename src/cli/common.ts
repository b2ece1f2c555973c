/** What every command shares: loading manifests, reporting issues, choosing an engine, failing cleanly. */
import { formatIssue, type Issue } from '../manifest/issue.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import type { EngineFactory } from '../policy/engine.js';
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { loadScenarioFromPaths } from '../scenario/files.js';
import type { Scenario } from '../scenario/load.js';

/** A problem with how podgate was called or what it was given: printed with its code, exit status 2. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/**
 * An error with a stable `PODGATE_E_*` code from a library module (a bad filter, an unreadable
 * store, an unknown profile...) as a CliError, so main prints its code and hint; anything else is
 * returned as it is (an internal error).
 */
export function asCliError(error: unknown): unknown {
  if (error instanceof CliError) return error;
  const coded = error as { code?: unknown; message?: unknown; hint?: unknown } | undefined;
  if (typeof coded?.code === 'string' && coded.code.startsWith('PODGATE_E_') && typeof coded.message === 'string') {
    return new CliError(coded.code, coded.message, typeof coded.hint === 'string' ? coded.hint : undefined);
  }
  return error;
}

export const ENGINES: Record<string, EngineFactory> = { compiled: createCompiledEngine, reference: createReferenceEngine };

export function engineFactory(name: string): EngineFactory {
  const factory = ENGINES[name];
  if (!factory) throw new CliError('PODGATE_E_USAGE', `unknown engine "${name}"`, `use ${Object.keys(ENGINES).join(' or ')}`);
  return factory;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/**
 * Loads manifests for a command that evaluates them. Errors are printed (the broken policies are
 * quarantined: they isolate and allow nothing); warnings are counted and point to `validate`.
 */
export function loadForEvaluation(paths: readonly string[], output: Output): Scenario {
  if (paths.length === 0) throw new CliError('PODGATE_E_USAGE', 'no manifests given', 'pass them with -f FILE|DIR|- (repeatable)');
  const scenario = loadScenarioFromPaths(paths);
  reportIssues(scenario.issues, output, { warnings: 'count' });
  if (scenario.cluster.pods.length === 0 && scenario.policies.length === 0) {
    throw new CliError('PODGATE_E_INPUT', `nothing to evaluate in ${paths.join(', ')}: no pods, workloads or policies were read`, 'point -f at Kubernetes manifests (YAML or JSON)');
  }
  return scenario;
}

export function reportIssues(issues: readonly Issue[], output: Output, options: { warnings: 'show' | 'count' }): void {
  const errors = issues.filter((issue) => issue.severity === 'error');
  const warnings = issues.filter((issue) => issue.severity === 'warning');
  for (const issue of errors) output.err(formatIssue(issue));
  if (options.warnings === 'show') for (const issue of warnings) output.err(formatIssue(issue));
  if (errors.length > 0 && options.warnings === 'count') {
    output.err(`podgate: ${errors.length} error${errors.length === 1 ? '' : 's'} in the input; invalid policies are quarantined (they isolate their pods and allow nothing).`);
  }
  if (warnings.length > 0 && options.warnings === 'count') output.err(`podgate: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}; see them with: podgate validate`);
}

export function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new CliError('PODGATE_E_USAGE', `port "${text}" is not a number from 1 to 65535`);
  return Number(text);
}

export function parseProtocol(text: string): 'TCP' | 'UDP' | 'SCTP' {
  const upper = text.toUpperCase();
  if (upper !== 'TCP' && upper !== 'UDP' && upper !== 'SCTP') throw new CliError('PODGATE_E_USAGE', `protocol "${text}" is not TCP, UDP or SCTP`);
  return upper;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
