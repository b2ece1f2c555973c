import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Prng } from '../policy/testing/prng.js';
import { compileFlowRequest, FlowFilterError, parseLabelSelector, requestUriPath, selectRecords, type FlowFilterJson, type FlowRequestJson } from './filter.js';
import type { Flow, FlowRecord } from './model.js';

const FIXTURE = new URL('../../../../shared/fixtures/hubble/hubble-observe-samples.jsonl', import.meta.url);

function record(flow: Flow): FlowRecord {
  return { flow: { time: '2024-05-01T12:00:00Z', ...flow }, node_name: 'kind/worker', time: flow.time ?? '2024-05-01T12:00:00Z' };
}

/** A TCP flow from shop/web-7f to payments/api-5c on port 8080, forwarded, as a starting point. */
function tcpFlow(extra: { [K in keyof Flow]?: Flow[K] | undefined } = {}): FlowRecord {
  const built = record({
    verdict: 'FORWARDED',
    IP: { source: '10.0.1.5', destination: '10.0.2.9', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true, ACK: true } } },
    source: { identity: 1234, namespace: 'shop', pod_name: 'web-7f', labels: ['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=shop', 'container:tier=front'], workloads: [{ name: 'web', kind: 'Deployment' }], cluster_name: 'east' },
    destination: { identity: 5678, namespace: 'payments', pod_name: 'api-5c', labels: ['k8s:app=api', 'k8s:version=3'], cluster_name: 'west' },
    Type: 'L3_L4',
    node_name: 'east/node-1',
    node_labels: ['kubernetes.io/hostname=node-1', 'topology.kubernetes.io/zone=a'],
    event_type: { type: 4, sub_type: 3 },
    traffic_direction: 'EGRESS',
    is_reply: false,
    uuid: 'u-1',
    ...(extra as Partial<Flow>),
  });
  // An explicit undefined removes the field, as a flow without it.
  for (const [key, value] of Object.entries(extra)) if (value === undefined) delete built.flow![key];
  return built;
}

function httpFlow(code: number, method: string, url: string): FlowRecord {
  return tcpFlow({ Type: 'L7', event_type: { type: 129 }, l7: { type: 'RESPONSE', http: { code, method, url, headers: [{ key: 'x-id', value: '7' }] } } });
}

const matches = (filter: FlowFilterJson, input: FlowRecord): boolean => compileFlowRequest({ whitelist: [filter] }).matches(input);

describe('FlowFilter fields', () => {
  const dropped = tcpFlow({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED', is_reply: undefined });
  const unknownReply = tcpFlow({ is_reply: undefined });
  const dns = tcpFlow({ l4: { UDP: { source_port: 5353, destination_port: 53 } }, l7: { dns: { query: 'api.example.com.' } }, destination_names: ['api.example.com'] });
  const icmp = tcpFlow({ l4: { ICMPv6: { type: 133 } }, IP: { source: 'fe80::1', destination: 'ff02::2', ipVersion: 'IPv6', encrypted: true } });
  const cases: { name: string; filter: FlowFilterJson; record: FlowRecord; expected: boolean }[] = [
    { name: 'source ip exact', filter: { source_ip: ['10.0.1.5'] }, record: tcpFlow(), expected: true },
    { name: 'source ip exact other', filter: { source_ip: ['10.0.1.6'] }, record: tcpFlow(), expected: false },
    { name: 'source ip CIDR', filter: { source_ip: ['10.0.0.0/16'] }, record: tcpFlow(), expected: true },
    { name: 'source ip CIDR with host bits', filter: { source_ip: ['10.0.1.77/24'] }, record: tcpFlow(), expected: true },
    { name: 'destination ip CIDR miss', filter: { destination_ip: ['10.0.1.0/24'] }, record: tcpFlow(), expected: false },
    { name: 'ip values are OR', filter: { destination_ip: ['10.9.9.9', '10.0.2.0/24'] }, record: tcpFlow(), expected: true },
    { name: 'IPv6 CIDR', filter: { source_ip: ['fe80::/10'] }, record: icmp, expected: true },
    { name: 'IPv4 CIDR never holds IPv6', filter: { source_ip: ['0.0.0.0/0'] }, record: icmp, expected: false },
    { name: 'pod ns/prefix', filter: { source_pod: ['shop/web'] }, record: tcpFlow(), expected: true },
    { name: 'pod ns/ is the namespace', filter: { destination_pod: ['payments/'] }, record: tcpFlow(), expected: true },
    { name: 'pod prefix must be a prefix', filter: { source_pod: ['shop/eb'] }, record: tcpFlow(), expected: false },
    { name: 'bare pod means namespace default', filter: { source_pod: ['web'] }, record: tcpFlow(), expected: false },
    { name: 'bare pod in default', filter: { source_pod: ['web'] }, record: tcpFlow({ source: { namespace: 'default', pod_name: 'web-1' } }), expected: true },
    { name: '/pod means any namespace', filter: { source_pod: ['/web'] }, record: tcpFlow(), expected: true },
    { name: 'pod on an endpoint without names', filter: { source_pod: ['/'] }, record: tcpFlow({ source: {} }), expected: false },
    { name: 'service', filter: { destination_service: ['payments/api'] }, record: tcpFlow({ destination_service: { name: 'api-svc', namespace: 'payments' } }), expected: true },
    { name: 'label with source', filter: { source_label: ['k8s:app=web'] }, record: tcpFlow(), expected: true },
    { name: 'label without source matches any source', filter: { source_label: ['tier=front'] }, record: tcpFlow(), expected: true },
    { name: 'label with the wrong source', filter: { source_label: ['k8s:tier=front'] }, record: tcpFlow(), expected: false },
    { name: 'label AND inside a selector', filter: { source_label: ['app=web,tier=back'] }, record: tcpFlow(), expected: false },
    { name: 'label selectors are OR', filter: { source_label: ['app=nope', 'app in (web, api)'] }, record: tcpFlow(), expected: true },
    { name: 'label notin on a missing key', filter: { source_label: ['team notin (a)'] }, record: tcpFlow(), expected: true },
    { name: 'label does not exist', filter: { source_label: ['!reserved:world'] }, record: tcpFlow(), expected: true },
    { name: 'label exists', filter: { destination_label: ['k8s:version'] }, record: tcpFlow(), expected: true },
    { name: 'label gt', filter: { destination_label: ['version>2'] }, record: tcpFlow(), expected: true },
    { name: 'label lt', filter: { destination_label: ['version<3'] }, record: tcpFlow(), expected: false },
    { name: 'reserved label', filter: { source_label: ['reserved:world'] }, record: tcpFlow({ source: { identity: 2, labels: ['reserved:world'] } }), expected: true },
    { name: 'fqdn wildcard', filter: { destination_fqdn: ['*.example.com'] }, record: dns, expected: true },
    { name: 'fqdn trailing dot and case', filter: { destination_fqdn: ['API.example.com.'] }, record: dns, expected: true },
    { name: 'fqdn miss', filter: { destination_fqdn: ['*.cilium.io'] }, record: dns, expected: false },
    { name: 'workload by name', filter: { source_workload: [{ name: 'web' }] }, record: tcpFlow(), expected: true },
    { name: 'workload by kind', filter: { source_workload: [{ kind: 'StatefulSet' }] }, record: tcpFlow(), expected: false },
    { name: 'identity', filter: { destination_identity: [5678] }, record: tcpFlow(), expected: true },
    { name: 'identity miss', filter: { source_identity: [2] }, record: tcpFlow(), expected: false },
    { name: 'verdict', filter: { verdict: ['DROPPED'] }, record: dropped, expected: true },
    { name: 'verdict by number', filter: { verdict: [1] }, record: tcpFlow(), expected: true },
    { name: 'verdict miss', filter: { verdict: ['DROPPED', 'AUDIT'] }, record: tcpFlow(), expected: false },
    { name: 'drop reason', filter: { drop_reason_desc: ['POLICY_DENIED'] }, record: dropped, expected: true },
    { name: 'drop reason needs DROPPED', filter: { drop_reason_desc: ['POLICY_DENIED'] }, record: tcpFlow({ drop_reason_desc: 'POLICY_DENIED' }), expected: false },
    { name: 'event type', filter: { event_type: [{ type: 4 }] }, record: tcpFlow(), expected: true },
    { name: 'event type and sub type', filter: { event_type: [{ type: 4, match_sub_type: true, sub_type: 3 }] }, record: tcpFlow(), expected: true },
    { name: 'event sub type 0 is a value', filter: { event_type: [{ type: 4, match_sub_type: true, sub_type: 0 }] }, record: tcpFlow(), expected: false },
    { name: 'event sub type ignored without match_sub_type', filter: { event_type: [{ type: 4, sub_type: 0 }] }, record: tcpFlow(), expected: true },
    { name: 'event type 0 is any type', filter: { event_type: [{}] }, record: tcpFlow(), expected: true },
    { name: 'event type on a flow without one', filter: { event_type: [{}] }, record: tcpFlow({ event_type: undefined }), expected: false },
    { name: 'traffic direction', filter: { traffic_direction: ['EGRESS'] }, record: tcpFlow(), expected: true },
    { name: 'traffic direction unknown is the default', filter: { traffic_direction: ['TRAFFIC_DIRECTION_UNKNOWN'] }, record: tcpFlow({ traffic_direction: undefined }), expected: true },
    { name: 'protocol tcp', filter: { protocol: ['TCP'] }, record: tcpFlow(), expected: true },
    { name: 'protocol udp on tcp', filter: { protocol: ['udp'] }, record: tcpFlow(), expected: false },
    { name: 'protocol icmp is v4 or v6', filter: { protocol: ['icmp'] }, record: icmp, expected: true },
    { name: 'protocol dns is L7', filter: { protocol: ['dns'] }, record: dns, expected: true },
    { name: 'protocol http on a dns flow', filter: { protocol: ['http'] }, record: dns, expected: false },
    { name: 'destination port', filter: { destination_port: ['8080'] }, record: tcpFlow(), expected: true },
    { name: 'source port', filter: { source_port: ['8080'] }, record: tcpFlow(), expected: false },
    { name: 'port on ICMP', filter: { destination_port: ['0'] }, record: icmp, expected: false },
    { name: 'reply false', filter: { reply: [false] }, record: tcpFlow(), expected: true },
    { name: 'reply unknown is no match', filter: { reply: [false] }, record: unknownReply, expected: false },
    { name: 'reply unknown counts as false when dropped', filter: { reply: [false] }, record: dropped, expected: true },
    { name: 'http status exact', filter: { http_status_code: ['404'] }, record: httpFlow(404, 'GET', '/x'), expected: true },
    { name: 'http status prefix', filter: { http_status_code: ['5+'] }, record: httpFlow(503, 'GET', '/x'), expected: true },
    { name: 'http status two-digit prefix', filter: { http_status_code: ['50+'] }, record: httpFlow(510, 'GET', '/x'), expected: false },
    { name: 'http status on a request (code 0)', filter: { http_status_code: ['2+'] }, record: httpFlow(0, 'GET', '/x'), expected: false },
    { name: 'http method ignores case', filter: { http_method: ['get'] }, record: httpFlow(200, 'GET', '/x'), expected: true },
    { name: 'http path regexp on the path', filter: { http_path: ['^/api/v[0-9]+/'] }, record: httpFlow(200, 'GET', 'http://api.payments:8080/api/v2/transfer?x=1'), expected: true },
    { name: 'http path matches anywhere (Go MatchString)', filter: { http_path: ['transfer'] }, record: httpFlow(200, 'GET', 'http://api/api/v2/transfer'), expected: true },
    { name: 'http path excludes the query', filter: { http_path: ['x=1'] }, record: httpFlow(200, 'GET', '/a?x=1'), expected: false },
    { name: 'http path percent-decoded', filter: { http_path: ['^/a b$'] }, record: httpFlow(200, 'GET', '/a%20b'), expected: true },
    { name: 'http path of an unparsable URL', filter: { http_path: ['.*'] }, record: httpFlow(200, 'GET', 'not a url'), expected: false },
    { name: 'http url regexp', filter: { http_url: ['^http://api\\.payments'] }, record: httpFlow(200, 'GET', 'http://api.payments:8080/x'), expected: true },
    { name: 'http header', filter: { http_header: [{ key: 'x-id', value: '7' }] }, record: httpFlow(200, 'GET', '/x'), expected: true },
    { name: 'dns query regexp', filter: { dns_query: ['example\\.com\\.$'] }, record: dns, expected: true },
    { name: 'dns query on a non-DNS flow', filter: { dns_query: ['.*'] }, record: tcpFlow(), expected: false },
    { name: 'node name pattern', filter: { node_name: ['east/node-*'] }, record: tcpFlow(), expected: true },
    { name: 'node name without cluster matches any cluster', filter: { node_name: ['node-1'] }, record: tcpFlow(), expected: true },
    { name: 'node name without cluster gets default', filter: { node_name: ['default/node-1'] }, record: tcpFlow({ node_name: 'node-1' }), expected: true },
    { name: 'node name * matches every node of any cluster', filter: { node_name: ['*'] }, record: tcpFlow(), expected: true },
    { name: 'node name in another cluster', filter: { node_name: ['west/*'] }, record: tcpFlow(), expected: false },
    { name: 'node labels', filter: { node_labels: ['topology.kubernetes.io/zone in (a, b)'] }, record: tcpFlow(), expected: true },
    { name: 'ip version', filter: { ip_version: ['IPv6'] }, record: icmp, expected: true },
    { name: 'ip version miss', filter: { ip_version: ['IPv6'] }, record: tcpFlow(), expected: false },
    { name: 'tcp flags subset', filter: { tcp_flags: [{ SYN: true }] }, record: tcpFlow(), expected: true },
    { name: 'tcp flags all required', filter: { tcp_flags: [{ SYN: true, FIN: true }] }, record: tcpFlow(), expected: false },
    { name: 'tcp flags alternatives', filter: { tcp_flags: [{ FIN: true }, { ACK: true }] }, record: tcpFlow(), expected: true },
    { name: 'encrypted', filter: { encrypted: [true] }, record: icmp, expected: true },
    { name: 'unencrypted', filter: { encrypted: [false] }, record: tcpFlow(), expected: true },
    { name: 'uuid', filter: { uuid: ['u-1'] }, record: tcpFlow(), expected: true },
    { name: 'cluster name', filter: { source_cluster_name: ['east'], destination_cluster_name: ['west'] }, record: tcpFlow(), expected: true },
    { name: 'fields are AND', filter: { source_pod: ['shop/'], verdict: ['DROPPED'] }, record: tcpFlow(), expected: false },
    { name: 'empty filter matches all', filter: {}, record: tcpFlow(), expected: true },
    { name: 'empty list is unset', filter: { verdict: [] }, record: tcpFlow(), expected: true },
  ];
  for (const { name, filter, record: input, expected } of cases) {
    it(name, () => assert.equal(matches(filter, input), expected));
  }
});

describe('whitelist and blacklist', () => {
  const shop = tcpFlow();
  const kube = tcpFlow({ source: { namespace: 'kube-system', pod_name: 'coredns-1' }, destination: { namespace: 'kube-system', pod_name: 'x' } });
  const cases: { name: string; request: FlowRequestJson; expected: [boolean, boolean] }[] = [
    { name: 'no lists: everything', request: {}, expected: [true, true] },
    { name: 'whitelist filters are OR', request: { whitelist: [{ source_pod: ['kube-system/'] }, { destination_pod: ['payments/'] }] }, expected: [true, true] },
    { name: 'one whitelist filter', request: { whitelist: [{ source_pod: ['kube-system/'] }] }, expected: [false, true] },
    { name: 'blacklist rejects', request: { blacklist: [{ source_pod: ['kube-system/'] }] }, expected: [true, false] },
    { name: 'blacklist filters are OR', request: { blacklist: [{ source_pod: ['kube-system/'] }, { verdict: ['FORWARDED'] }] }, expected: [false, false] },
    { name: 'blacklist wins over whitelist', request: { whitelist: [{ verdict: ['FORWARDED'] }], blacklist: [{ destination_port: ['8080'] }] }, expected: [false, false] },
  ];
  for (const { name, request, expected } of cases) {
    it(name, () => {
      const compiled = compileFlowRequest(request);
      assert.deepEqual([compiled.matches(shop), compiled.matches(kube)], expected);
    });
  }

  it('passes records without a flow through any filter, as the Hubble server does', () => {
    const compiled = compileFlowRequest({ whitelist: [{ verdict: ['DROPPED'] }], blacklist: [{}] });
    assert.equal(compiled.matches({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '3' } }), true);
    assert.equal(compiled.matches({ node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['a'] } }), true);
    assert.equal(compiled.matches(tcpFlow()), false);
  });

  it('does not throw on records of the wrong shape', () => {
    const compiled = compileFlowRequest({ whitelist: [{ source_ip: ['10.0.0.0/8'], destination_label: ['app'], http_path: ['.'], node_name: ['*'], destination_port: ['1'] }] });
    const odd = { flow: { IP: { source: 42 }, destination: { labels: 'app' }, l7: { http: [] }, node_name: 7, l4: { TCP: 'x' } } } as unknown as FlowRecord;
    assert.equal(compiled.matches(odd), false);
  });
});

describe('compileFlowRequest rejects bad values with PODGATE_E_FILTER', () => {
  const cases: { name: string; request: FlowRequestJson; path: string; message: RegExp }[] = [
    { name: 'bad CIDR', request: { whitelist: [{ source_ip: ['10.0.0.0/33'] }] }, path: 'whitelist[0].source_ip[0]', message: /invalid IP prefix/ },
    { name: 'bad address', request: { blacklist: [{ destination_ip: ['10.0.0.256'] }] }, path: 'blacklist[0].destination_ip[0]', message: /invalid IP address/ },
    { name: 'leading zeros', request: { whitelist: [{ source_ip: ['010.0.0.1'] }] }, path: 'whitelist[0].source_ip[0]', message: /invalid IP address/ },
    { name: 'bad regexp', request: { whitelist: [{ http_path: ['(unclosed'] }] }, path: 'whitelist[0].http_path[0]', message: /invalid regular expression/ },
    { name: 'lookahead is not RE2', request: { whitelist: [{ dns_query: ['(?=x)'] }] }, path: 'whitelist[0].dns_query[0]', message: /invalid regular expression/ },
    { name: 'unknown verdict', request: { whitelist: [{ verdict: ['DENIED'] }] }, path: 'whitelist[0].verdict[0]', message: /unknown value/ },
    { name: 'unknown drop reason', request: { whitelist: [{ drop_reason_desc: ['NOPE'] }] }, path: 'whitelist[0].drop_reason_desc[0]', message: /unknown value/ },
    { name: 'unknown direction', request: { whitelist: [{ traffic_direction: ['UP'] }] }, path: 'whitelist[0].traffic_direction[0]', message: /unknown value/ },
    { name: 'unknown protocol', request: { whitelist: [{ protocol: ['quic'] }] }, path: 'whitelist[0].protocol[0]', message: /unknown protocol/ },
    { name: 'bad port', request: { whitelist: [{ destination_port: ['65536'] }] }, path: 'whitelist[0].destination_port[0]', message: /invalid port/ },
    { name: 'bad status', request: { whitelist: [{ http_status_code: ['6+'] }] }, path: 'whitelist[0].http_status_code[0]', message: /status code/ },
    { name: 'http needs l7 type', request: { whitelist: [{ http_method: ['GET'], event_type: [{ type: 4 }] }] }, path: 'whitelist[0].http_method', message: /only match 'l7'/ },
    { name: 'bad label selector', request: { whitelist: [{ source_label: ['app in ()'] }] }, path: 'whitelist[0].source_label[0]', message: /can't be empty/ },
    { name: 'bad label key', request: { whitelist: [{ source_label: ['app_=x'] }] }, path: 'whitelist[0].source_label[0]', message: /not a valid label name/ },
    { name: 'bad fqdn pattern', request: { whitelist: [{ source_fqdn: ['a/b'] }] }, path: 'whitelist[0].source_fqdn[0]', message: /invalid rune/ },
    { name: 'bad node pattern', request: { whitelist: [{ node_name: ['a/b/c'] }] }, path: 'whitelist[0].node_name[0]', message: /too many slashes/ },
    { name: 'empty pod', request: { whitelist: [{ source_pod: [''] }] }, path: 'whitelist[0].source_pod[0]', message: /must not be empty/ },
    { name: 'not a list', request: { whitelist: [{ verdict: 'DROPPED' as unknown as string[] }] }, path: 'whitelist[0].verdict', message: /must be a list/ },
    { name: 'unknown field', request: { whitelist: [{ sourcePod: ['x'] } as FlowFilterJson] }, path: 'whitelist[0].sourcePod', message: /not a FlowFilter field/ },
    { name: 'CEL', request: { whitelist: [{ experimental: { cel_expression: ['true'] } }] }, path: 'whitelist[0].experimental', message: /CEL/ },
    { name: 'bad since', request: { since: 'yesterday' }, path: 'since', message: /RFC 3339/ },
    { name: 'bad number', request: { number: '-1' }, path: 'number', message: /unsigned/ },
    { name: 'first with follow', request: { first: true, follow: true }, path: 'first', message: /first cannot be specified with follow/ },
  ];
  for (const { name, request, path, message } of cases) {
    it(name, () => {
      assert.throws(
        () => compileFlowRequest(request),
        (error: unknown) => {
          assert.ok(error instanceof FlowFilterError, `expected FlowFilterError, got ${String(error)}`);
          assert.equal(error.code, 'PODGATE_E_FILTER');
          assert.equal(error.path, path);
          assert.match(error.message, message);
          assert.ok(error.hint.length > 0);
          return true;
        },
      );
    });
  }
});

describe('label selectors', () => {
  const valid: [string, string][] = [
    ['k8s:app=web', 'k8s app in web'],
    ['app', 'any app exists'],
    ['!reserved:world', 'reserved world doesnotexist'],
    ['app != web', 'any app notin web'],
    ['app notin (a, b)', 'any app notin a|b'],
    ['in in (in)', 'any in in in'],
    ['app==', 'any app in '],
    ['k8s:io.cilium.k8s.policy.cluster=default, app', 'k8s io.cilium.k8s.policy.cluster in default; any app exists'],
    ['', ''],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      const parsed = parseLabelSelector(text);
      assert.ok(typeof parsed !== 'string', String(parsed));
      assert.equal(parsed.map((r) => `${r.source} ${r.key} ${r.operator}${r.values.length > 0 ? ` ${r.values.join('|')}` : ''}`).join('; '), expected);
    });
  }
  for (const text of ['app in (a', 'app=a=b', 'app,', '!app=x', 'app > x', ' ', 'k8s:app=foo:bar']) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(typeof parseLabelSelector(text), 'string'));
  }
});

describe('requestUriPath (Go url.ParseRequestURI)', () => {
  const cases: [string, string | undefined][] = [
    ['http://api:8080/a/b?x=1', '/a/b'],
    ['/a/b?x', '/a/b'],
    ['/a#frag', '/a#frag'],
    ['/a%2Fb', '/a/b'],
    ['/a%zz', undefined],
    ['http://host', ''],
    ['mailto:x@y', ''],
    ['relative/path', undefined],
    [':8080/x', undefined],
    ['http://host:port/x', undefined],
    ['*', '*'],
  ];
  for (const [url, expected] of cases) it(url, () => assert.equal(requestUriPath(url), expected));
});

async function collect(records: FlowRecord[], request: FlowRequestJson): Promise<string[]> {
  const out: string[] = [];
  async function* source(): AsyncGenerator<FlowRecord> {
    yield* records;
  }
  for await (const item of selectRecords(source(), compileFlowRequest(request))) out.push(item.flow?.uuid ?? `lost:${item.lost_events?.num_events_lost}`);
  return out;
}

describe('selectRecords', () => {
  const at = (uuid: string, second: number, verdict: Flow['verdict'] = 'FORWARDED'): FlowRecord => {
    const time = `2024-05-01T12:00:${String(second).padStart(2, '0')}Z`;
    return tcpFlow({ uuid, time, verdict });
  };
  const lost = (count: number): FlowRecord => ({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: String(count) }, time: '2024-05-01T11:00:00Z' });
  const stream = [at('a', 1), lost(1), at('b', 2, 'DROPPED'), at('c', 3), lost(2), at('d', 4, 'DROPPED'), at('e', 5), lost(3)];
  const cases: { name: string; request: FlowRequestJson; expected: string[] }[] = [
    { name: 'everything', request: {}, expected: ['a', 'lost:1', 'b', 'c', 'lost:2', 'd', 'e', 'lost:3'] },
    { name: 'filters apply to flows only', request: { whitelist: [{ verdict: ['DROPPED'] }] }, expected: ['lost:1', 'b', 'lost:2', 'd', 'lost:3'] },
    { name: 'first N stops after the Nth flow', request: { number: '2', first: true }, expected: ['a', 'lost:1', 'b'] },
    { name: 'last N keeps what follows the window start', request: { number: '2' }, expected: ['d', 'e', 'lost:3'] },
    { name: 'last N after filtering', request: { number: '1', whitelist: [{ verdict: ['DROPPED'] }] }, expected: ['d', 'lost:3'] },
    { name: 'last N larger than the stream', request: { number: '10' }, expected: ['a', 'lost:1', 'b', 'c', 'lost:2', 'd', 'e', 'lost:3'] },
    { name: 'hubble --all', request: { number: '18446744073709551615' }, expected: ['a', 'lost:1', 'b', 'c', 'lost:2', 'd', 'e', 'lost:3'] },
    { name: 'since and until are inclusive, lost events exempt', request: { since: '2024-05-01T12:00:02Z', until: '2024-05-01T12:00:04Z' }, expected: ['lost:1', 'b', 'c', 'lost:2', 'd', 'lost:3'] },
    { name: 'first N within a range', request: { since: '2024-05-01T12:00:02Z', number: '1', first: true }, expected: ['lost:1', 'b'] },
  ];
  for (const { name, request, expected } of cases) it(name, async () => assert.deepEqual(await collect(stream, request), expected));

  it('stops reading once the first N flows are out (an endless source ends)', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<FlowRecord> {
      for (let index = 0; ; index++) {
        pulled++;
        yield at(`n${index}`, index % 60, index % 3 === 0 ? 'DROPPED' : 'FORWARDED');
      }
    }
    const out: string[] = [];
    for await (const item of selectRecords(endless(), compileFlowRequest({ number: '2', first: true, whitelist: [{ verdict: ['DROPPED'] }] }))) out.push(item.flow!.uuid!);
    assert.deepEqual(out, ['n0', 'n3']);
    assert.equal(pulled, 4);
  });

  it('keeps a bounded window for last N over a long stream', async () => {
    const long = Array.from({ length: 5000 }, (_, index) => at(`f${index}`, index % 60));
    assert.deepEqual(await collect(long, { number: '3' }), ['f4997', 'f4998', 'f4999']);
  });
});

describe('hubble observe samples', () => {
  const present = existsSync(FIXTURE);
  const lines = present ? readFileSync(FIXTURE, 'utf8').split('\n').filter((line) => line.trim() !== '') : [];
  const records = lines.map((line) => JSON.parse(line) as FlowRecord);
  // Each count is also computed by a plain predicate, so a wrong filter and a wrong constant both fail.
  const cases: { name: string; request: FlowRequestJson; predicate: (flow: Flow) => boolean; count: number }[] = [
    { name: '--verdict DROPPED', request: { whitelist: [{ verdict: ['DROPPED'] }] }, predicate: (flow) => flow.verdict === 'DROPPED', count: 2 },
    { name: '--from-namespace bookinfo', request: { whitelist: [{ source_pod: ['bookinfo/'] }] }, predicate: (flow) => flow.source?.namespace === 'bookinfo', count: 11 },
    {
      name: '--namespace bookinfo',
      request: { whitelist: [{ source_pod: ['bookinfo/'] }, { destination_pod: ['bookinfo/'] }] },
      predicate: (flow) => flow.source?.namespace === 'bookinfo' || flow.destination?.namespace === 'bookinfo',
      count: 18,
    },
    { name: '--type l7', request: { whitelist: [{ event_type: [{ type: 129 }] }] }, predicate: (flow) => flow.event_type?.type === 129, count: 8 },
    { name: '--http-status 5+', request: { whitelist: [{ http_status_code: ['5+'] }] }, predicate: (flow) => (flow.l7?.http?.code ?? 0) >= 500, count: 1 },
    { name: '--not --protocol tcp', request: { blacklist: [{ protocol: ['tcp'] }] }, predicate: (flow) => flow.l4?.TCP === undefined, count: 8 },
    { name: '--to-label k8s:app=reviews', request: { whitelist: [{ destination_label: ['k8s:app=reviews'] }] }, predicate: (flow) => flow.destination?.labels?.includes('k8s:app=reviews') === true, count: 4 },
    { name: '--protocol dns', request: { whitelist: [{ protocol: ['dns'] }] }, predicate: (flow) => flow.l7?.dns !== undefined, count: 6 },
  ];
  for (const { name, request, predicate, count } of cases) {
    it(name, { skip: present ? false : `fixture missing: ${FIXTURE.pathname}` }, () => {
      const compiled = compileFlowRequest(request);
      const matched = records.filter((item) => compiled.matches(item));
      assert.equal(matched.length, count);
      assert.equal(records.filter((item) => item.flow !== undefined && predicate(item.flow)).length, count);
      assert.ok(matched.every((item) => predicate(item.flow!)));
      if (compiled.prefilter) for (const [index, line] of lines.entries()) if (compiled.matches(records[index]!)) assert.ok(compiled.prefilter(line), line);
    });
  }
});

describe('prefilter', () => {
  it('is undefined when the filters give nothing to look for', () => {
    assert.equal(compileFlowRequest({}).prefilter, undefined);
    assert.equal(compileFlowRequest({ blacklist: [{ source_pod: ['a/'] }] }).prefilter, undefined);
    assert.equal(compileFlowRequest({ whitelist: [{ source_pod: ['a/'] }, { source_label: ['app=x'] }] }).prefilter, undefined);
  });

  it('skips flow lines without the namespace and keeps the rest', () => {
    const prefilter = compileFlowRequest({ whitelist: [{ source_pod: ['bookinfo/'] }, { destination_pod: ['bookinfo/'] }] }).prefilter!;
    assert.equal(prefilter('{"flow":{"source":{"namespace":"shop"}}}'), false);
    assert.equal(prefilter('{"flow":{"source":{"namespace":"bookinfo"}}}'), true);
    assert.equal(prefilter('{"flow":{"source":{"namespace":"\\u0062ookinfo"}}}'), true);
    assert.equal(prefilter('{"lost_events":{"num_events_lost":"1"}}'), true);
    assert.equal(prefilter('{"time":"2024-05-01T12:00:00Z","flow":{}}'), true);
  });

  // Random filters and records, serialized plainly, with escapes and with spaces: a line the full
  // test accepts must never be rejected by the prefilter.
  it('never rejects a line that matches (random filters and records, fixed seed)', () => {
    const prng = new Prng(20240501);
    const namespaces = ['shop', 'payments', 'bookinfo', 'kube-system', 'default'];
    const pods = ['web-1', 'api-2', 'db-0', 'coredns-x'];
    const verdicts = ['FORWARDED', 'DROPPED', 'AUDIT', 'VERDICT_UNKNOWN'] as const;
    const reasons = ['POLICY_DENIED', 'AUTH_REQUIRED', 'STALE_OR_UNROUTABLE_IP'];
    const ips = ['10.0.0.1', '10.0.0.2', 'fd00::1'];
    const randomEndpoint = (): Record<string, unknown> => ({
      ...(prng.chance(0.85) ? { namespace: prng.pick(namespaces) } : {}),
      ...(prng.chance(0.8) ? { pod_name: prng.pick(pods) } : {}),
      ...(prng.chance(0.5) ? { cluster_name: prng.pick(['east', 'west']) } : {}),
      ...(prng.chance(0.4) ? { workloads: [{ name: prng.pick(['web', 'api']), kind: 'Deployment' }] } : {}),
      ...(prng.chance(0.5) ? { identity: prng.int(1, 3) } : {}),
    });
    const randomFlow = (): Record<string, unknown> => {
      const verdict = prng.pick(verdicts);
      const protocol = prng.pick(['TCP', 'UDP', 'ICMPv4', 'none']);
      return {
        time: '2024-05-01T12:00:00Z',
        ...(prng.chance(0.5) ? { uuid: prng.pick(['u1', 'u2']) } : {}),
        ...(verdict === 'VERDICT_UNKNOWN' ? {} : { verdict }),
        ...(verdict === 'DROPPED' && prng.chance(0.8) ? { drop_reason_desc: prng.pick(reasons) } : {}),
        IP: { source: prng.pick(ips), destination: prng.pick(ips), ...(prng.chance(0.5) ? { ipVersion: 'IPv4' } : {}), ...(prng.chance(0.3) ? { encrypted: true } : {}) },
        ...(protocol === 'none' ? {} : { l4: { [protocol]: protocol === 'ICMPv4' ? { type: 8 } : { source_port: 1000, destination_port: prng.pick([53, 80, 8080]), ...(protocol === 'TCP' && prng.chance(0.6) ? { flags: { SYN: true } } : {}) } } }),
        source: randomEndpoint(),
        destination: randomEndpoint(),
        ...(prng.chance(0.3) ? { destination_service: { namespace: prng.pick(namespaces), name: 'svc' } } : {}),
        ...(prng.chance(0.3) ? { destination_names: ['api.example.com'] } : {}),
        ...(prng.chance(0.7) ? { event_type: { type: prng.pick([1, 4, 129]) } } : {}),
        ...(prng.chance(0.7) ? { traffic_direction: prng.pick(['INGRESS', 'EGRESS']) } : {}),
        ...(prng.chance(0.3) ? { l7: prng.chance(0.5) ? { http: { code: prng.pick([200, 503]), method: 'GET', url: '/x', headers: [{ key: 'a', value: 'b' }] } } : { dns: { query: 'api.example.com.' } } } : {}),
        node_name: 'east/node-1',
      };
    };
    const fieldFilters: (() => FlowFilterJson)[] = [
      () => ({ [prng.pick(['source_pod', 'destination_pod'])]: prng.some([...namespaces.map((ns) => `${ns}/`), ...pods.map((pod) => `${prng.pick(namespaces)}/${pod.slice(0, 2)}`), '/web', 'web'], 2).concat(['shop/']) }),
      () => ({ [prng.pick(['source_service', 'destination_service'])]: [`${prng.pick(namespaces)}/`] }),
      () => ({ verdict: prng.some([...verdicts], 2).concat(['DROPPED']) }),
      () => ({ drop_reason_desc: [prng.pick(reasons)] }),
      () => ({ [prng.pick(['source_ip', 'destination_ip'])]: prng.some(ips, 2).concat(['10.0.0.1']) }),
      () => ({ protocol: [prng.pick(['tcp', 'udp', 'icmp', 'icmpv4', 'http', 'dns'])] }),
      () => ({ uuid: [prng.pick(['u1', 'u2'])] }),
      () => ({ traffic_direction: prng.some(['INGRESS', 'EGRESS', 'TRAFFIC_DIRECTION_UNKNOWN'], 2).concat(['EGRESS']) }),
      () => ({ http_status_code: ['5+'] }),
      () => ({ http_method: ['get'] }),
      () => ({ http_header: [{ key: 'a', value: 'b' }] }),
      () => ({ dns_query: ['example'] }),
      () => ({ tcp_flags: [{ SYN: true }] }),
      () => ({ [prng.pick(['source_cluster_name', 'destination_cluster_name'])]: [prng.pick(['east', 'west'])] }),
      () => ({ [prng.pick(['source_workload', 'destination_workload'])]: [prng.chance(0.5) ? { name: 'web' } : { kind: 'Deployment' }] }),
      () => ({ destination_fqdn: ['*.example.com'] }),
      () => ({ event_type: [{ type: prng.pick([1, 4, 129]) }] }),
      () => ({ ip_version: [prng.pick(['IPv4', 'IP_NOT_USED'])] }),
      () => ({ encrypted: [prng.chance(0.5)] }),
      () => ({ source_identity: [prng.int(1, 3)] }),
    ];
    const randomFilter = (): FlowFilterJson => Object.assign({}, ...Array.from({ length: prng.int(1, 3) }, () => prng.pick(fieldFilters)()));
    const escapeOne = (line: string): string => {
      const letters = [...line.matchAll(/"[a-z]/g)].map((match) => match.index! + 1);
      if (letters.length === 0) return line;
      const at = prng.pick(letters);
      return `${line.slice(0, at)}\\u00${line.charCodeAt(at).toString(16)}${line.slice(at + 1)}`;
    };
    let checked = 0;
    let matched = 0;
    let rejected = 0;
    for (let round = 0; round < 400; round++) {
      const request: FlowRequestJson = { whitelist: Array.from({ length: prng.int(1, 3) }, randomFilter), ...(prng.chance(0.3) ? { blacklist: [randomFilter()] } : {}) };
      let compiled;
      try {
        compiled = compileFlowRequest(request);
      } catch (error) {
        // An HTTP field next to a non-L7 event type is rejected up front, as Hubble does.
        assert.match(String(error), /only match 'l7'/);
        continue;
      }
      for (let index = 0; index < 10; index++) {
        const value: FlowRecord = prng.chance(0.1) ? { lost_events: { num_events_lost: '1' } } : { flow: randomFlow() as Flow, node_name: 'east/node-1' };
        const plain = JSON.stringify(value);
        for (const line of [plain, escapeOne(plain), JSON.stringify(value, null, 1).replaceAll('\n', ' ')]) {
          const parsed = JSON.parse(line) as FlowRecord;
          checked++;
          const accepted = compiled.prefilter === undefined || compiled.prefilter(line);
          if (!accepted) rejected++;
          if (compiled.matches(parsed)) {
            matched++;
            assert.ok(accepted, `prefilter rejected a matching line\nrequest: ${JSON.stringify(request)}\nline: ${line}`);
          }
        }
      }
    }
    // The property is only meaningful if lines both match and get rejected.
    assert.ok(checked > 9000 && matched > 500 && rejected > 1000, `checked ${checked}, matched ${matched}, rejected ${rejected}`);
  });
});
