/**
 * `podgate lint`: policy problems found by asking the policy engine (blocked probes, DNS,
 * shadowed allows, guardrails, voided HTTP rules) and by reading the policies (empty and
 * over-broad selectors, deprecated APIs, priority ties). Every finding is an Issue with a
 * stable `PODGATE_E_LINT_*` / `PODGATE_W_LINT_*` code.
 */
import { parseSource, type LocatedObject, type SourceText } from '../manifest/document.js';
import type { Issue } from '../manifest/issue.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import type { EngineFactory } from '../policy/engine.js';
import { scenarioFromObjects, type Scenario } from '../scenario/load.js';
import { dnsFindings } from './dns.js';
import { FindingCollector, type Finding } from './findings.js';
import { deprecatedApiFindings, emptyCiliumRuleFindings, priorityTieFindings, surfacedParserWarnings } from './hygiene.js';
import { probeFindings } from './probes.js';
import { authConflicts, shadowedAllows, voidedHttpRules } from './rule-checks.js';
import { allowRules, ConnectionSampler } from './sampling.js';
import { emptySelectorFindings, openTenantFindings } from './selectors.js';

export const LINT_CHECKS = ['probes', 'dns', 'selectors', 'shadowed', 'open-tenant', 'l7', 'auth', 'cilium-empty-rule', 'priority', 'deprecated'] as const;
export type LintCheck = (typeof LINT_CHECKS)[number];

export interface LintOptions {
  readonly scenario: Scenario;
  /** Every object read (pods and workloads carry the probes, which the cluster model does not keep). */
  readonly objects: readonly LocatedObject[];
  readonly engine?: EngineFactory;
  /** Run only these checks (default: all). */
  readonly checks?: readonly LintCheck[];
}

export function lintScenario(options: LintOptions): Issue[] {
  const { scenario } = options;
  const enabled = new Set<LintCheck>(options.checks ?? LINT_CHECKS);
  const factory = options.engine ?? createCompiledEngine;
  const engine = factory({ cluster: scenario.cluster, policies: scenario.policies });
  const collector = new FindingCollector(scenario);
  const add = (findings: readonly Finding[]): void => findings.forEach((finding) => collector.add(finding));
  const policies = scenario.policies;

  if (enabled.has('probes')) add(probeFindings({ scenario, engine, objects: options.objects }));
  if (enabled.has('dns')) add(dnsFindings({ scenario, engine }));
  if (enabled.has('selectors')) add(emptySelectorFindings(engine.cluster, policies));
  if (enabled.has('open-tenant')) add(openTenantFindings(engine.cluster, policies));
  if (enabled.has('shadowed') || enabled.has('l7') || enabled.has('auth')) {
    const context = { engine, sampler: new ConnectionSampler(engine.cluster, factory), rules: allowRules(policies), policies };
    if (enabled.has('shadowed')) add(shadowedAllows(context));
    if (enabled.has('l7')) add(voidedHttpRules(context));
    if (enabled.has('auth')) add(authConflicts(context));
  }
  if (enabled.has('cilium-empty-rule')) add(emptyCiliumRuleFindings(scenario));
  if (enabled.has('priority')) add(priorityTieFindings(engine.cluster, policies));
  if (enabled.has('deprecated')) {
    add(deprecatedApiFindings(scenario));
    for (const issue of surfacedParserWarnings(scenario.issues)) collector.addIssue(issue);
  }
  return collector.result();
}

export interface LintedSources {
  readonly scenario: Scenario;
  readonly objects: readonly LocatedObject[];
  readonly findings: readonly Issue[];
}

/** Reads sources once (keeping every object for the probe check), then lints. */
export function lintSources(sources: readonly SourceText[], options: Omit<LintOptions, 'scenario' | 'objects'> = {}): LintedSources {
  const { scenario, objects } = readForLint(sources);
  return { scenario, objects, findings: lintScenario({ ...options, scenario, objects }) };
}

export function readForLint(sources: readonly SourceText[], extraIssues: readonly Issue[] = []): { scenario: Scenario; objects: LocatedObject[] } {
  const issues: Issue[] = [...extraIssues];
  const objects: LocatedObject[] = [];
  for (const source of sources) {
    const parsed = parseSource(source);
    issues.push(...parsed.issues);
    objects.push(...parsed.objects);
  }
  return { scenario: scenarioFromObjects(objects, { issues }), objects };
}
