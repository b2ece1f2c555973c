/**
 * Policy conformance corpora (the format of shared/conformance/README.md): small cases of namespaces,
 * pods, external addresses and policies, each with probes and the verdict upstream expects.
 */
import { externalEndpoint, podEndpoint } from '../cluster/endpoint.js';
import { ClusterState } from '../cluster/state.js';
import { formatIssue, hasErrors } from '../manifest/issue.js';
import { DecodeContext } from '../manifest/reader.js';
import { parseIp } from '../policy/address.js';
import { scenarioFromObjects } from '../scenario/load.js';
/** Reads a corpus; problems with the corpus file itself are Issues, never exceptions. */
export function readCorpus(name, value) {
    const ctx = new DecodeContext({ source: name });
    const root = ctx.root(value);
    const cases = [];
    root.object();
    (root.child('cases').array() ?? []).forEach((caseField, index) => {
        const parsed = readCase(caseField, index, name);
        if (parsed)
            cases.push(parsed);
    });
    if (!root.child('cases').present)
        root.child('cases').error('PODGATE_E_REQUIRED', 'a corpus needs a cases list');
    return { corpus: { name, cases }, issues: ctx.issues };
}
function readCase(field, index, corpusName) {
    const object = field.object();
    if (!object)
        return undefined;
    const id = object.child('id').string() ?? `case-${index}`;
    const namespaces = [];
    for (const entry of object.child('namespaces').array() ?? []) {
        const name = entry.child('name').string();
        if (name === undefined)
            continue;
        const labels = new Map(entry.child('labels').stringMap() ?? []);
        labels.set('kubernetes.io/metadata.name', name);
        namespaces.push({ name, labels });
    }
    const pods = [];
    for (const entry of object.child('pods').array() ?? []) {
        const namespace = entry.child('namespace').string();
        const name = entry.child('name').string();
        if (namespace === undefined || name === undefined) {
            entry.error('PODGATE_E_REQUIRED', 'corpus pods need namespace and name');
            continue;
        }
        const ipText = entry.child('ip').string();
        const ip = ipText === undefined ? undefined : parseIp(ipText);
        if (ipText !== undefined && !ip)
            entry.child('ip').error('PODGATE_E_IP', `"${ipText}" is not an IP address`);
        const containerPorts = (entry.child('containerPorts').array() ?? []).flatMap((portField) => {
            const port = portField.child('port').integer({ min: 1, max: 65535 });
            const protocol = (portField.child('protocol').string() ?? 'TCP');
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
    const externals = [];
    for (const entry of object.child('externals').array() ?? []) {
        const name = entry.child('name').string();
        const ipText = entry.child('ip').string();
        const ip = ipText === undefined ? undefined : parseIp(ipText);
        if (name === undefined)
            continue;
        externals.push({ name, entity: entry.child('entity').string() ?? 'world', ...(ip ? { ip } : {}) });
    }
    const policies = (object.child('policies').array() ?? []).map((policyField, policyIndex) => ({
        value: policyField.value,
        source: `${corpusName}#${id}.policies[${policyIndex}]`,
        documentIndex: 0,
        prefix: [],
        locate: () => undefined,
    }));
    const probes = [];
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
            protocol: (entry.child('protocol').string() ?? 'TCP'),
            expect,
            ...(http ? { http } : {}),
            ...(authRequired === undefined ? {} : { authRequired }),
            ...(reason === undefined ? {} : { reason }),
        });
    }
    return { id, name: object.child('name').string() ?? id, index, namespaces, pods, externals, policies, probes };
}
/** Runs every probe of every case with a fresh engine per case. */
export function runCorpus(corpus, factory, engineName) {
    let passed = 0;
    const failures = [];
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
            const src = endpointFor(engine.cluster, probe.from);
            const dst = endpointFor(engine.cluster, probe.to);
            if (!src || !dst) {
                failures.push({ caseId: testCase.id, probe, problem: `unknown endpoint ${!src ? probe.from : probe.to}` });
                continue;
            }
            const connection = { src, dst, protocol: probe.protocol, port: probe.port, ...(probe.http ? { http: probe.http } : {}) };
            const verdict = engine.evaluate(connection);
            const got = verdict.allowed ? 'allow' : 'deny';
            const problems = [];
            if (got !== probe.expect)
                problems.push(`expected ${probe.expect}, got ${got}`);
            if (probe.authRequired !== undefined && verdict.authRequired !== probe.authRequired)
                problems.push(`expected authRequired=${probe.authRequired}, got ${verdict.authRequired}`);
            if (problems.length === 0)
                passed++;
            else
                failures.push({ caseId: testCase.id, probe, problem: problems.join('; '), verdict });
        }
    }
    return { corpus: corpus.name, engine: engineName, passed, failed: failures.length, failures };
}
function endpointFor(cluster, name) {
    const external = cluster.externals.find((candidate) => candidate.name === name);
    if (external)
        return externalEndpoint(external);
    const slash = name.indexOf('/');
    if (slash === -1)
        return undefined;
    const pod = cluster.pod(name.slice(0, slash), name.slice(slash + 1));
    return pod ? podEndpoint(cluster, pod) : undefined;
}
//# sourceMappingURL=corpus.js.map