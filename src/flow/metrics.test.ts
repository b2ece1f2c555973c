import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { register as globalRegistry } from 'prom-client';
import { registerFlowsMetrics } from '../cli/commands/flows-metrics.js';
import { CliError, type Output } from '../cli/common.js';
import { parseFlowLine } from './jsonl.js';
import { HubbleMetrics, METRICS_CONFIG_ERROR, MetricsConfigError, parseMetricsConfig, serveMetrics } from './metrics.js';
import type { Flow, FlowRecord } from './model.js';

const FIXTURE = new URL('../../../../shared/fixtures/hubble/hubble-observe-samples.jsonl', import.meta.url);

function withoutReply(flow: Flow): Flow {
  const { is_reply: _omitted, ...rest } = flow;
  return rest;
}

function record(flow: Flow): FlowRecord {
  return { flow: { time: '2024-05-01T10:00:00Z', ...flow } };
}

/** The sample lines of one metric family, sorted, from the registry's text exposition. */
async function samples(metrics: HubbleMetrics, name: string): Promise<string[]> {
  const text = await metrics.metrics();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();
}

function feed(config: string, flows: readonly Flow[]): HubbleMetrics {
  const metrics = new HubbleMetrics({ metrics: config });
  for (const flow of flows) metrics.observe(record(flow));
  return metrics;
}

const tcp = (flags: Record<string, boolean>, extra: Flow = {}): Flow => ({
  verdict: 'FORWARDED',
  event_type: { type: 4 },
  IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 40000, destination_port: 443, flags } },
  ...extra,
});

describe('HubbleMetrics on real hubble observe lines', () => {
  const present = existsSync(FIXTURE);
  it('counts the fixture flows exactly as Hubble would', { skip: present ? false : `fixture missing: ${FIXTURE.pathname}` }, async () => {
    const metrics = new HubbleMetrics();
    for (const line of readFileSync(FIXTURE, 'utf8').split('\n')) {
      const parsed = parseFlowLine(line);
      if (parsed !== undefined && typeof parsed !== 'string') metrics.observe(parsed);
    }
    // The exporter lines are field-masked: without event_type Hubble's FlowProtocol says "Unknown flow".
    assert.deepEqual(await samples(metrics, 'hubble_drop_total'), ['hubble_drop_total{reason="INVALID_SOURCE_IP",protocol="Unknown flow"} 1', 'hubble_drop_total{reason="POLICY_DENIED",protocol="Unknown flow"} 1']);
    assert.deepEqual(await samples(metrics, 'hubble_tcp_flags_total'), ['hubble_tcp_flags_total{flag="FIN",family="IPv4"} 5', 'hubble_tcp_flags_total{flag="SYN",family="IPv4"} 4', 'hubble_tcp_flags_total{flag="SYN-ACK",family="IPv4"} 2']);
    const flows = await samples(metrics, 'hubble_flows_processed_total');
    for (const line of [
      'hubble_flows_processed_total{protocol="Unknown flow",type="Unknown",subtype="0",verdict="DROPPED"} 2',
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-endpoint",verdict="FORWARDED"} 10',
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-stack",verdict="FORWARDED"} 5',
      'hubble_flows_processed_total{protocol="DNS",type="L7",subtype="DNS",verdict="FORWARDED"} 6',
      'hubble_flows_processed_total{protocol="HTTP",type="L7",subtype="HTTP",verdict="FORWARDED"} 2',
      'hubble_flows_processed_total{protocol="TCP",type="PolicyVerdict",subtype="",verdict="REDIRECTED"} 1',
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-overlay",verdict="FORWARDED"} 3',
    ]) {
      assert.ok(flows.includes(line), `missing ${line} in\n${flows.join('\n')}`);
    }
    const total = flows.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    assert.equal(total, 36);
    assert.deepEqual(await samples(metrics, 'hubble_dns_responses_total'), [
      'hubble_dns_responses_total{rcode="No Error",qtypes="A",ips_returned="1"} 1',
      'hubble_dns_responses_total{rcode="Non-Existent Domain",qtypes="A",ips_returned="0"} 1',
      'hubble_dns_responses_total{rcode="Non-Existent Domain",qtypes="AAAA",ips_returned="0"} 1',
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_port_distribution_total'), [
      'hubble_port_distribution_total{protocol="ICMPv4",port="0"} 1',
      'hubble_port_distribution_total{protocol="TCP",port="4244"} 1',
      'hubble_port_distribution_total{protocol="TCP",port="53"} 2',
      'hubble_port_distribution_total{protocol="TCP",port="9080"} 6',
      'hubble_port_distribution_total{protocol="TCP",port="9990"} 1',
      'hubble_port_distribution_total{protocol="UDP",port="53"} 2',
    ]);
    assert.ok((await samples(metrics, 'hubble_policy_verdicts_total')).includes('hubble_policy_verdicts_total{direction="egress",match="l4-only",action="redirected"} 1'));
  });
});

describe('drop handler', () => {
  it('labels reason (drop_reason_desc) and protocol (FlowProtocol), context first', async () => {
    const policyDrop: Flow = { verdict: 'DROPPED', event_type: { type: 1, sub_type: 133 }, drop_reason_desc: 'POLICY_DENIED', l4: { TCP: { destination_port: 5432 } }, source: { namespace: 'frontend' }, destination: { namespace: 'payments' } };
    const plain = feed('drop', [policyDrop, policyDrop, { verdict: 'DROPPED', event_type: { type: 1 }, l4: { UDP: { destination_port: 53 } } }, { verdict: 'DROPPED', event_type: { type: 1 }, drop_reason_desc: 'POLICY_DENY', l4: { ICMPv6: { type: 128 } } }, { verdict: 'FORWARDED', event_type: { type: 4 }, l4: { TCP: {} } }]);
    assert.deepEqual(await samples(plain, 'hubble_drop_total'), [
      'hubble_drop_total{reason="DROP_REASON_UNKNOWN",protocol="UDP"} 1',
      'hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 2',
      'hubble_drop_total{reason="POLICY_DENY",protocol="ICMPv6"} 1',
    ]);
    const withContext = feed('drop:sourceContext=namespace;destinationContext=namespace', [policyDrop]);
    assert.deepEqual(await samples(withContext, 'hubble_drop_total'), ['hubble_drop_total{source="frontend",destination="payments",reason="POLICY_DENIED",protocol="TCP"} 1']);
  });
});

describe('dns handler', () => {
  const dnsFlow = (dns: Record<string, unknown>, extra: Flow = {}): Flow => ({ verdict: 'FORWARDED', event_type: { type: 129 }, Type: 'L7', l7: { type: 'RESPONSE', dns }, is_reply: true, ...extra });

  it('names response rcodes as Hubble does', async () => {
    const cases: Array<[number, string]> = [
      [0, 'No Error'],
      [2, 'Server Failure'],
      [3, 'Non-Existent Domain'],
      [5, 'Query Refused'],
      [23, 'Bad/missing Server Cookie'],
      [12, ''],
    ];
    for (const [rcode, name] of cases) {
      const metrics = feed('dns', [dnsFlow({ query: 'db.example.', rcode, qtypes: ['A'], ips: ['10.0.0.1', '10.0.0.2'], rrtypes: ['A', 'A'] })]);
      assert.deepEqual(await samples(metrics, 'hubble_dns_responses_total'), [`hubble_dns_responses_total{rcode="${name}",qtypes="A",ips_returned="2"} 1`], `rcode ${rcode}`);
      assert.deepEqual(await samples(metrics, 'hubble_dns_response_types_total'), ['hubble_dns_response_types_total{type="A",qtypes="A"} 2']);
    }
  });

  it('counts requests with an empty rcode and drops as "Policy denied"', async () => {
    const metrics = feed('dns:query', [
      dnsFlow({ query: 'api.example.', qtypes: ['A', 'AAAA'] }, { is_reply: false }),
      withoutReply(dnsFlow({ query: 'api.example.', qtypes: ['A'] })),
      dnsFlow({ query: 'evil.example.', qtypes: ['A'] }, { verdict: 'DROPPED', is_reply: false }),
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_dns_queries_total'), [
      'hubble_dns_queries_total{rcode="",qtypes="A",ips_returned="0",query="api.example."} 1',
      'hubble_dns_queries_total{rcode="",qtypes="A,AAAA",ips_returned="0",query="api.example."} 1',
      'hubble_dns_queries_total{rcode="Policy denied",qtypes="A",ips_returned="0",query="evil.example."} 1',
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_dns_responses_total'), []);
  });

  it('ignoreAAAA skips flows whose only qtype is AAAA', async () => {
    const metrics = feed('dns:ignoreAAAA', [dnsFlow({ rcode: 0, qtypes: ['AAAA'] }), dnsFlow({ rcode: 0, qtypes: ['A', 'AAAA'] })]);
    assert.deepEqual(await samples(metrics, 'hubble_dns_responses_total'), ['hubble_dns_responses_total{rcode="No Error",qtypes="A,AAAA",ips_returned="0"} 1']);
  });
});

describe('tcp handler', () => {
  it('counts FIN, SYN, SYN-ACK and RST of forwarded and redirected flows per IP family', async () => {
    const metrics = feed('tcp', [
      tcp({ SYN: true }),
      tcp({ SYN: true, ACK: true }),
      tcp({ FIN: true, ACK: true }),
      tcp({ FIN: true, RST: true }),
      tcp({ PSH: true, ACK: true }),
      tcp({ SYN: true }, { verdict: 'REDIRECTED' }),
      tcp({ SYN: true }, { verdict: 'DROPPED' }),
      tcp({ SYN: true }, { IP: { source: 'fd00::1', destination: 'fd00::2', ipVersion: 'IPv6' } }),
      { verdict: 'FORWARDED', l4: { TCP: { flags: { SYN: true } } } },
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_tcp_flags_total'), [
      'hubble_tcp_flags_total{flag="FIN",family="IPv4"} 2',
      'hubble_tcp_flags_total{flag="RST",family="IPv4"} 1',
      'hubble_tcp_flags_total{flag="SYN",family="IPv4"} 2',
      'hubble_tcp_flags_total{flag="SYN",family="IPv6"} 1',
      'hubble_tcp_flags_total{flag="SYN-ACK",family="IPv4"} 1',
    ]);
  });

  it('puts context labels after flag and family', async () => {
    const metrics = feed('tcp:destinationContext=pod', [tcp({ SYN: true }, { destination: { namespace: 'shop', pod_name: 'api-0' } })]);
    assert.deepEqual(await samples(metrics, 'hubble_tcp_flags_total'), ['hubble_tcp_flags_total{flag="SYN",family="IPv4",destination="shop/api-0"} 1']);
  });
});

describe('flow handler', () => {
  it('labels protocol, type, subtype and verdict per event type', async () => {
    const cases: Array<[Flow, string]> = [
      [{ verdict: 'FORWARDED', event_type: { type: 129 }, l7: { http: { code: 200, method: 'GET' } } }, '{protocol="HTTP",type="L7",subtype="HTTP",verdict="FORWARDED"}'],
      [{ verdict: 'DROPPED', event_type: { type: 129 }, l7: { kafka: {} } }, '{protocol="Kafka",type="L7",subtype="Kafka",verdict="DROPPED"}'],
      [{ verdict: 'FORWARDED', event_type: { type: 129 } }, '{protocol="Unknown L7",type="L7",subtype="",verdict="FORWARDED"}'],
      [{ verdict: 'DROPPED', event_type: { type: 1, sub_type: 133 }, l4: { SCTP: {} } }, '{protocol="SCTP",type="Drop",subtype="",verdict="DROPPED"}'],
      [{ verdict: 'FORWARDED', event_type: { type: 3 }, l4: { UDP: {} } }, '{protocol="UDP",type="Capture",subtype="",verdict="FORWARDED"}'],
      [{ verdict: 'FORWARDED', event_type: { type: 4, sub_type: 11 }, l4: { TCP: {} } }, '{protocol="TCP",type="Trace",subtype="to-network",verdict="FORWARDED"}'],
      [{ verdict: 'FORWARDED', event_type: { type: 4, sub_type: 13 }, l4: { TCP: {} } }, '{protocol="TCP",type="Trace",subtype="to-crypto",verdict="FORWARDED"}'],
      [{ verdict: 'FORWARDED', event_type: { type: 4, sub_type: 99 } }, '{protocol="Unknown L4",type="Trace",subtype="",verdict="FORWARDED"}'],
      [{ verdict: 'AUDIT', event_type: { type: 5 }, l4: { ICMPv4: {} } }, '{protocol="ICMPv4",type="PolicyVerdict",subtype="",verdict="AUDIT"}'],
      [{ event_type: { type: 7 }, l4: { TCP: {} } }, '{protocol="Unknown flow",type="Unknown",subtype="7",verdict="VERDICT_UNKNOWN"}'],
    ];
    for (const [flow, labels] of cases) {
      assert.deepEqual(await samples(feed('flow', [flow]), 'hubble_flows_processed_total'), [`hubble_flows_processed_total${labels} 1`]);
    }
  });
});

describe('port-distribution handler', () => {
  it('counts the destination port of requests only: replies and flows of unknown direction are skipped', async () => {
    const request: Flow = { verdict: 'FORWARDED', event_type: { type: 4 }, l4: { TCP: { source_port: 51000, destination_port: 8080 } }, is_reply: false };
    const metrics = feed('port-distribution', [
      request,
      { ...request, verdict: 'REDIRECTED' },
      { ...request, l4: { TCP: { source_port: 8080, destination_port: 51000 } }, is_reply: true },
      withoutReply(request),
      { ...request, verdict: 'DROPPED' },
      { ...request, l4: { UDP: { destination_port: 53 } } },
      { ...request, l4: { SCTP: { destination_port: 3868 } } },
      { ...request, l4: { ICMPv6: { type: 128 } } },
      { verdict: 'FORWARDED', is_reply: false },
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_port_distribution_total'), [
      'hubble_port_distribution_total{protocol="ICMPv6",port="0"} 1',
      'hubble_port_distribution_total{protocol="SCTP",port="3868"} 1',
      'hubble_port_distribution_total{protocol="TCP",port="8080"} 2',
      'hubble_port_distribution_total{protocol="UDP",port="53"} 1',
    ]);
  });
});

describe('policy handler', () => {
  it('counts policy verdicts (not from the host) and L7 flows with direction, match and action', async () => {
    const verdict = (match: number | undefined, extra: Flow = {}): Flow => ({ verdict: 'FORWARDED', event_type: { type: 5 }, traffic_direction: 'INGRESS', source: { identity: 12345 }, ...(match === undefined ? {} : { policy_match_type: match }), ...extra });
    const metrics = feed('policy', [
      verdict(undefined),
      verdict(1),
      verdict(2),
      verdict(3, { verdict: 'DROPPED', traffic_direction: 'EGRESS' }),
      verdict(4),
      verdict(5),
      verdict(6, { verdict: 'AUDIT' }),
      verdict(9),
      verdict(2, { source: { identity: 1, labels: ['reserved:host'] } }),
      { verdict: 'FORWARDED', event_type: { type: 129 }, l7: { http: { code: 200 } }, traffic_direction: 'EGRESS' },
      { verdict: 'DROPPED', event_type: { type: 129 }, l7: { dns: {} } },
      { verdict: 'FORWARDED', event_type: { type: 4 }, traffic_direction: 'INGRESS' },
    ]);
    assert.deepEqual(await samples(metrics, 'hubble_policy_verdicts_total'), [
      'hubble_policy_verdicts_total{direction="egress",match="l4-only",action="dropped"} 1',
      'hubble_policy_verdicts_total{direction="egress",match="l7/http",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="all",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="l3-l4",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="l3-only",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="l3-proto",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="none",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="proto-only",action="audit"} 1',
      'hubble_policy_verdicts_total{direction="ingress",match="unknown",action="forwarded"} 1',
      'hubble_policy_verdicts_total{direction="traffic_direction_unknown",match="l7/dns",action="dropped"} 1',
    ]);
  });
});

describe('context options', () => {
  const flow: Flow = {
    verdict: 'DROPPED',
    event_type: { type: 1 },
    drop_reason_desc: 'POLICY_DENIED',
    traffic_direction: 'EGRESS',
    IP: { source: '10.1.0.5', destination: '10.2.0.7', ipVersion: 'IPv4' },
    l4: { TCP: { destination_port: 5432 } },
    source: { namespace: 'frontend', pod_name: 'web-7d4b9c-x2x9z', labels: ['k8s:app.kubernetes.io/name=web', 'k8s:app=legacy-web'], workloads: [{ name: 'web', kind: 'Deployment' }] },
    destination: { identity: 7, labels: ['reserved:world', 'reserved:kube-apiserver'] },
    destination_names: ['api.example.com', 'example.com'],
  };
  const cases: Array<[string, string]> = [
    ['sourceContext=namespace', 'source="frontend"'],
    ['sourceContext=pod', 'source="frontend/web-7d4b9c-x2x9z"'],
    ['sourceContext=pod-name', 'source="web-7d4b9c-x2x9z"'],
    ['sourceContext=pod-short', 'source="frontend/web"'],
    ['sourceContext=workload', 'source="frontend/web"'],
    ['sourceContext=workload-name', 'source="web"'],
    ['sourceContext=app', 'source="web"'],
    ['sourceContext=identity', 'source="k8s:app.kubernetes.io/name=web,k8s:app=legacy-web"'],
    ['sourceContext=ip', 'source="10.1.0.5"'],
    ['destinationContext=namespace', 'destination=""'],
    ['destinationContext=namespace|dns|ip', 'destination="api.example.com,example.com"'],
    ['destinationContext=pod|ip', 'destination="10.2.0.7"'],
    ['destinationContext=reserved-identity', 'destination="reserved:kube-apiserver"'],
    ['destinationContext=workload|app', 'destination=""'],
    ['sourceContext=namespace;destinationContext=ip', 'source="frontend",destination="10.2.0.7"'],
    // labelsContext labels come out in Hubble's fixed order, before source/destination.
    ['labelsContext=traffic_direction,destination_ip,source_workload_kind,source_app;sourceContext=workload-name', 'source_workload_kind="Deployment",source_app="web",destination_ip="10.2.0.7",traffic_direction="egress",source="web"'],
    ['labelsContext=source_namespace,source_pod,source_workload,destination_namespace,destination_pod,destination_workload,destination_workload_kind,destination_app', 'source_pod="web-7d4b9c-x2x9z",source_namespace="frontend",source_workload="web",destination_pod="",destination_namespace="",destination_workload="",destination_workload_kind="",destination_app=""'],
  ];
  for (const [options, labels] of cases) {
    it(`drop:${options}`, async () => {
      const metrics = feed(`drop:${options}`, [flow]);
      assert.deepEqual(await samples(metrics, 'hubble_drop_total'), [`hubble_drop_total{${labels},reason="POLICY_DENIED",protocol="TCP"} 1`]);
    });
  }

  it('appends context labels after the fixed ones for flow, port-distribution and policy', async () => {
    const request: Flow = { verdict: 'FORWARDED', event_type: { type: 5 }, traffic_direction: 'INGRESS', is_reply: false, policy_match_type: 2, l4: { TCP: { destination_port: 80 } }, source: { namespace: 'a', identity: 9 }, destination: { namespace: 'b' } };
    const options = 'sourceContext=namespace;destinationContext=namespace';
    const metrics = feed(`flow:${options} port-distribution:${options} policy:${options}`, [request]);
    assert.deepEqual(await samples(metrics, 'hubble_flows_processed_total'), ['hubble_flows_processed_total{protocol="TCP",type="PolicyVerdict",subtype="",verdict="FORWARDED",source="a",destination="b"} 1']);
    assert.deepEqual(await samples(metrics, 'hubble_port_distribution_total'), ['hubble_port_distribution_total{protocol="TCP",port="80",source="a",destination="b"} 1']);
    assert.deepEqual(await samples(metrics, 'hubble_policy_verdicts_total'), ['hubble_policy_verdicts_total{direction="ingress",match="l3-l4",action="forwarded",source="a",destination="b"} 1']);
  });
});

describe('metrics configuration', () => {
  it('parses Hubble --hubble-metrics strings', () => {
    const configs = parseMetricsConfig('  dns:query;ignoreAAAA\n drop:sourceContext=namespace;destinationContext=workload-name|pod  tcp flow port-distribution policy:labelsContext=source_namespace,traffic_direction');
    assert.deepEqual(
      configs.map((config) => config.name),
      ['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'policy'],
    );
    assert.equal(configs[0]?.query, true);
    assert.equal(configs[0]?.ignoreAAAA, true);
    assert.deepEqual(configs[1]?.context.source, ['namespace']);
    assert.deepEqual(configs[1]?.context.destination, ['workload-name', 'pod']);
    assert.deepEqual([...(configs[5]?.context.labels ?? [])], ['source_namespace', 'traffic_direction']);
    // Option keys are case-insensitive, as in Hubble.
    assert.deepEqual(parseMetricsConfig('drop:SOURCECONTEXT=namespace')[0]?.context.source, ['namespace']);
  });

  const bad: Array<[string, RegExp]> = [
    ['http', /unknown metric "http"/],
    ['drop drop', /configured twice/],
    ['drop:sourceContext=namespaces', /unknown context "namespaces"/],
    ['drop:sourceContext=namespace||ip', /unknown context ""/],
    ['drop:sourceContext', /needs a value/],
    ['drop:labelsContext=source_namespace,pod', /invalid labelsContext value "pod"/],
    ['tcp:query', /unknown option "query" for metric "tcp"/],
    ['dns:query=true', /takes no value/],
    [':query', /unknown metric ""/],
  ];
  for (const [config, message] of bad) {
    it(`rejects ${JSON.stringify(config)} with ${METRICS_CONFIG_ERROR}`, () => {
      assert.throws(
        () => new HubbleMetrics({ metrics: config }),
        (error: unknown) => error instanceof MetricsConfigError && error.code === 'PODGATE_E_METRICS_CONFIG' && message.test(error.message) && error.hint.length > 0,
      );
    });
  }
});

describe('registry', () => {
  it('counts lost events by source, with the agent-created series at 0', async () => {
    const metrics = new HubbleMetrics({ metrics: 'drop' });
    metrics.observe({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '3' }, time: '2024-05-01T10:00:00Z' });
    metrics.observe({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '2', cpu: 1 } });
    metrics.observe({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '1' } });
    assert.deepEqual(await samples(metrics, 'hubble_lost_events_total'), ['hubble_lost_events_total{source="hubble_ring_buffer"} 4', 'hubble_lost_events_total{source="observer_events_queue"} 0', 'hubble_lost_events_total{source="perf_event_ring_buffer"} 2']);
  });

  it('registers only the configured metrics, typed counters with Hubble help, in a registry of its own', async () => {
    const metrics = new HubbleMetrics({ metrics: 'drop tcp' });
    const text = await metrics.metrics();
    assert.match(text, /^# HELP hubble_drop_total Number of drops\n# TYPE hubble_drop_total counter$/m);
    assert.match(text, /^# TYPE hubble_tcp_flags_total counter$/m);
    assert.match(text, /^# TYPE hubble_lost_events_total counter$/m);
    assert.doesNotMatch(text, /hubble_dns|hubble_flows_processed|hubble_policy|hubble_port/);
    // Two instances do not collide, and the process-wide registry stays untouched.
    const other = new HubbleMetrics({ metrics: 'drop' });
    other.observe(record({ verdict: 'DROPPED', event_type: { type: 1 }, drop_reason_desc: 'POLICY_DENIED', l4: { TCP: {} } }));
    assert.deepEqual(await samples(metrics, 'hubble_drop_total'), []);
    assert.equal(globalRegistry.getSingleMetric('hubble_drop_total'), undefined);
  });

  it('never throws on records with odd shapes', async () => {
    const metrics = new HubbleMetrics({ metrics: 'dns:query drop:sourceContext=workload|app|identity;labelsContext=source_app tcp flow port-distribution policy' });
    const odd: unknown[] = [
      { flow: { verdict: 3, l4: { TCP: 5 }, l7: { dns: { qtypes: 'A', ips: 'x', rrtypes: [1, null] } }, event_type: { type: '129' } } },
      { flow: { verdict: 'DROPPED', source: { workloads: [null, 'x'], labels: [1, 'k8s:app='] }, IP: null, event_type: null } },
      { flow: { verdict: 'FORWARDED', l4: { TCP: { flags: { SYN: 'yes' } } }, IP: {}, is_reply: 'no' } },
      { lost_events: { num_events_lost: 'many' } },
      { node_status: { state_change: 'NODE_CONNECTED' } },
    ];
    for (const item of odd) assert.doesNotThrow(() => metrics.observe(item as FlowRecord));
    assert.equal(metrics.failures, 0);
    assert.match(await metrics.metrics(), /hubble_drop_total\{source_app="",source="k8s:app=",reason="DROP_REASON_UNKNOWN",protocol="Unknown flow"\} 1/);
  });
});

describe('serveMetrics', () => {
  it('serves GET /metrics in Prometheus text format and 404 elsewhere', async () => {
    const metrics = feed('drop', [{ verdict: 'DROPPED', event_type: { type: 1 }, drop_reason_desc: 'POLICY_DENIED', l4: { TCP: { destination_port: 80 } } }]);
    const server = await serveMetrics({ host: '127.0.0.1', port: 0, metrics });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const scrape = await fetch(`${base}/metrics`);
      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.ok((await scrape.text()).split('\n').includes('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 1'));
      // Later flows show in the next scrape.
      metrics.observe(record({ verdict: 'DROPPED', event_type: { type: 1 }, drop_reason_desc: 'POLICY_DENIED', l4: { TCP: {} } }));
      assert.ok((await (await fetch(`${base}/metrics?x=1`)).text()).includes('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 2'));
      const missing = await fetch(`${base}/`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
      const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
      assert.equal(post.status, 405);
      await post.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});

describe('podgate flows metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-metrics-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: readonly string[]): Promise<{ out: string; err: string; status: number | undefined }> {
    const out: string[] = [];
    const err: string[] = [];
    const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
    const program = new Command().exitOverride();
    registerFlowsMetrics(program.command('flows'), output);
    const previous = process.exitCode;
    try {
      await program.parseAsync(['flows', 'metrics', ...args], { from: 'user' });
      return { out: out.join('\n'), err: err.join('\n'), status: typeof process.exitCode === 'number' ? process.exitCode : undefined };
    } finally {
      process.exitCode = previous;
    }
  }

  it('prints the exposition for a file, and exits 1 naming skipped lines', async () => {
    const dropped = JSON.stringify(record({ verdict: 'DROPPED', event_type: { type: 1 }, drop_reason_desc: 'POLICY_DENIED', l4: { TCP: { destination_port: 5432 } }, source: { namespace: 'shop' }, destination: { namespace: 'db' } }));
    const clean = join(dir, 'clean.jsonl');
    writeFileSync(clean, `${dropped}\n${dropped}\n`);
    const good = await run(['--file', clean, '--metrics', 'drop:sourceContext=namespace;destinationContext=namespace flow']);
    assert.equal(good.status, 0);
    assert.ok(good.out.split('\n').includes('hubble_drop_total{source="shop",destination="db",reason="POLICY_DENIED",protocol="TCP"} 2'), good.out);
    assert.ok(good.out.split('\n').includes('hubble_flows_processed_total{protocol="TCP",type="Drop",subtype="",verdict="DROPPED"} 2'));
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, `${dropped}\n{"flow":\n`);
    const partial = await run(['--file', broken, '--metrics', 'drop']);
    assert.equal(partial.status, 1);
    assert.ok(partial.out.includes('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 1'));
    assert.match(partial.err, /PODGATE_W_FLOW_SKIPPED[\s\S]*broken\.jsonl:2/);
  });

  it('turns a bad --metrics string into PODGATE_E_METRICS_CONFIG with a hint', async () => {
    await assert.rejects(run(['--file', '-', '--metrics', 'drop:sourceContext=planet']), (error: unknown) => error instanceof CliError && error.code === 'PODGATE_E_METRICS_CONFIG' && error.exitCode === 2 && (error.hint ?? '').includes('namespace'));
  });
});
