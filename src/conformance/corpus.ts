/**
 * Policy conformance corpora (the format of shared/conformance/README.md): small cases of namespaces,
 * pods, external addresses and policies, each with probes and the verdict upstream expects.
 */
import { namedEndpoint } from '../cluster/endpoint.js';
import type { External, Namespace, Pod } from '../cluster/model.js';
import { ClusterState } from '../cluster/state.js';
import { unlocatedObjects, type LocatedObject } from '../manifest/document.js';
import { formatIssue, hasErrors, type Issue } from '../manifest/issue.js';
import { DecodeContext, type Field } from '../manifest/reader.js';
import { parseIp } from '../policy/address.js';
import type { EngineFactory } from '../policy/engine.js';
import type { HttpRequest } from '../policy/l7.js';
import type { Protocol } from '../policy/ports.js';
import type { Connection, Verdict } from '../policy/verdict.js';
import { scenarioFromObjects } from '../scenario/load.js';

export interface Probe {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly http?: HttpRequest;
  readonly expect: 'allow' | 'deny';
  readonly authRequired?: boolean;
  readonly reason?: string;
}

export interface CorpusCase {
  readonly id: string;
  readonly name: string;
  readonly index: number;
  readonly namespaces: Namespace[];
  readonly pods: Pod[];
  readonly externals: External[];
  readonly policies: LocatedObject[];
  readonly probes: Probe[];
}

export interface Corpus {
  readonly name: string;
  readonly cases: CorpusCase[];
}

/** Reads a corpus; problems with the corpus file itself are Issues, never exceptions. */
export function readCorpus(name: string, value: unknown): { corpus: Corpus; issues: Issue[] } {
  const ctx = new DecodeContext({ source: name });
  const root = ctx.root(value);
  const cases: CorpusCase[] = [];
  root.object();
  (root.child('cases').array() ?? []).forEach((caseField, index) => {
    const parsed = readCase(caseField, index, name);
    if (parsed) cases.push(parsed);
  });
  if (!root.child('cases').present) root.child('cases').error('PODGATE_E_REQUIRED', 'a corpus needs a cases list');
  return { corpus: { name, cases }, issues: ctx.issues };
}

function readCase(field: Field, index: number, corpusName: string): CorpusCase | undefined {
  const object = field.object();
  if (!object) return undefined;
  const id = object.child('id').string() ?? `case-${index}`;
  const namespaces: Namespace[] = [];
  for (const entry of object.child('namespaces').array() ?? []) {
    const name = entry.child('name').string();
    if (name === undefined) continue;
    const labels = new Map(entry.child('labels').stringMap() ?? []);
    labels.set('kubernetes.io/metadata.name', name);
    namespaces.push({ name, labels });
  }
  const pods: Pod[] = [];
  for (const entry of object.child('pods').array() ?? []) {
    const namespace = entry.child('namespace').string();
    const name = entry.child('name').string();
    if (namespace === undefined || name === undefined) {
      entry.error('PODGATE_E_REQUIRED', 'corpus pods need namespace and name');
      continue;
    }
    const ipText = entry.child('ip').string();
    const ip = ipText === undefined ? undefined : parseIp(ipText);
    if (ipText !== undefined && !ip) entry.child('ip').error('PODGATE_E_IP', `"${ipText}" is not an IP address`);
    const containerPorts = (entry.child('containerPorts').array() ?? []).flatMap((portField) => {
      const port = portField.child('port').integer({ min: 1, max: 65535 });
      const protocol = (portField.child('protocol').string() ?? 'TCP') as Protocol;
      const portName = portField.child('name').string();
      return port === undefined ? [] : [{ port, protocol, ...(portName === undefined ? {} : { name: portName }) }];
    });
    const nodeName = entry.child('nodeName').string();
    pods.push({
      namespace,
      name,
      labels: entry.child('labels').stringMap() ?? new Map(),
      serviceAccount: entry.child('serviceAccount').string() ?? 'default',
      ips: ip ? [ip] : [],
      ...(ip ? { ip } : {}),
      hostNetwork: false,
      containerPorts,
      ...(nodeName === undefined ? {} : { nodeName }),
    });
  }
  const externals: External[] = [];
  for (const entry of object.child('externals').array() ?? []) {
    const name = entry.child('name').string();
    const ipText = entry.child('ip').string();
    const ip = ipText === undefined ? undefined : parseIp(ipText);
    if (name === undefined) continue;
    externals.push({ name, entity: entry.child('entity').string() ?? 'world', ...(ip ? { ip } : {}) });
  }
  const policies = unlocatedObjects((object.child('policies').array() ?? []).map((policyField) => policyField.value), `${corpusName}#${id}.policies`);
  const probes: Probe[] = [];
  for (const entry of object.child('probes').array() ?? []) {
    const from = entry.child('from').string();
    const to = entry.child('to').string();
    const port = entry.child('port').integer({ min: 0, max: 65535 });
    const expect = entry.child('expect').string();
    if (from === undefined || to === undefined || port === undefined || (expect !== 'allow' && expect !== 'deny')) {
      entry.error('PODGATE_E_PROBE', 'a probe needs from, to, port and expect (allow or deny)');
      continue;
    }
    const httpField = entry.child('http');
    const method = httpField.child('method').string();
    const path = httpField.child('path').string();
    const host = httpField.child('host').string();
    const headers = httpField.child('headers').stringMap();
    const http = httpField.present ? { method: method ?? 'GET', path: path ?? '/', ...(host === undefined ? {} : { host }), ...(headers ? { headers: Object.fromEntries(headers) } : {}) } : undefined;
    const authRequired = entry.child('authRequired').boolean();
    const reason = entry.child('reason').string();
    probes.push({
      from,
      to,
      port,
      protocol: (entry.child('protocol').string() ?? 'TCP') as Protocol,
      expect,
      ...(http ? { http } : {}),
      ...(authRequired === undefined ? {} : { authRequired }),
      ...(reason === undefined ? {} : { reason }),
    });
  }
  return { id, name: object.child('name').string() ?? id, index, namespaces, pods, externals, policies, probes };
}

export interface ProbeFailure {
  readonly caseId: string;
  readonly probe: Probe;
  readonly problem: string;
  readonly verdict?: Verdict;
  readonly issues?: readonly Issue[];
}

export interface CorpusResult {
  readonly corpus: string;
  readonly engine: string;
  readonly passed: number;
  readonly failed: number;
  readonly failures: ProbeFailure[];
}

/** Runs every probe of every case with a fresh engine per case. */
export function runCorpus(corpus: Corpus, factory: EngineFactory, engineName: string): CorpusResult {
  let passed = 0;
  const failures: ProbeFailure[] = [];
  for (const testCase of corpus.cases) {
    const scenario = scenarioFromObjects(testCase.policies, {});
    const cluster = ClusterState.build({ namespaces: testCase.namespaces, pods: testCase.pods, externals: testCase.externals });
    const errors = scenario.issues.filter((issue) => issue.severity === 'error');
    const engine = factory({ cluster, policies: scenario.policies });
    for (const probe of testCase.probes) {
      if (hasErrors(errors)) {
        failures.push({ caseId: testCase.id, probe, problem: `the case's policies did not load: ${errors.map(formatIssue).join('; ')}`, issues: errors });
        continue;
      }
      const src = namedEndpoint(engine.cluster, probe.from);
      const dst = namedEndpoint(engine.cluster, probe.to);
      if (!src || !dst) {
        failures.push({ caseId: testCase.id, probe, problem: `unknown endpoint ${!src ? probe.from : probe.to}` });
        continue;
      }
      const connection: Connection = { src, dst, protocol: probe.protocol, port: probe.port, ...(probe.http ? { http: probe.http } : {}) };
      const verdict = engine.evaluate(connection);
      const got = verdict.allowed ? 'allow' : 'deny';
      const problems: string[] = [];
      if (got !== probe.expect) problems.push(`expected ${probe.expect}, got ${got}`);
      if (probe.authRequired !== undefined && verdict.authRequired !== probe.authRequired) problems.push(`expected authRequired=${probe.authRequired}, got ${verdict.authRequired}`);
      if (problems.length === 0) passed++;
      else failures.push({ caseId: testCase.id, probe, problem: problems.join('; '), verdict });
    }
  }
  return { corpus: corpus.name, engine: engineName, passed, failed: failures.length, failures };
}
