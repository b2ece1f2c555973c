/**
 * Expected strings come from cilium/cilium hubble/pkg/printer/printer_test.go (the flow `f` there is
 * line 1 of ../shared/fixtures/hubble/hubble-printer-test-expected.jsonl): same input, same text.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Flow, FlowRecord } from './model.js';
import { derivedSummary, FlowPrinter, flowType, formatTime, parseTimeFormat, UTC, type PrinterOptions, type TimeFormat } from './printer.js';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/hubble/', import.meta.url));
const printerLines = readFileSync(`${FIXTURES}hubble-printer-test-expected.jsonl`, 'utf8').trim().split('\n');
const sampleLines = readFileSync(`${FIXTURES}hubble-observe-samples.jsonl`, 'utf8').trim().split('\n');

function record(line: string | undefined): FlowRecord {
  assert.ok(line !== undefined);
  return JSON.parse(line) as FlowRecord;
}

/** Hubble's test flow `f`: DROPPED, identities 4 and 12345, TCP 31793 -> 8080, drop 133. */
const base = record(printerLines[0]);
const withTraceId = record(printerLines[1]);

function variant(change: (flow: Flow) => void): FlowRecord {
  const copy = structuredClone(base);
  change(copy.flow!);
  return copy;
}

const reply = variant((flow) => (flow.is_reply = true));
const unknownDirection = variant((flow) => delete flow.is_reply);
const policyDenied = variant((flow) => {
  flow.event_type = { type: 5 };
  delete flow.is_reply;
  flow.traffic_direction = 'EGRESS';
  flow.egress_denied_by = [{ name: 'my-policy', namespace: 'my-policy-namespace', kind: 'CiliumNetworkPolicy' }];
});
const policyAllowed = variant((flow) => {
  flow.event_type = { type: 5 };
  flow.verdict = 'FORWARDED';
  delete flow.is_reply;
  flow.traffic_direction = 'INGRESS';
  flow.ingress_allowed_by = [
    { name: 'my-policy', namespace: 'my-policy-namespace', kind: 'CiliumNetworkPolicy' },
    { name: 'my-policy-2', kind: 'CiliumClusterwideNetworkPolicy' },
  ];
  flow.policy_match_type = 1;
});
const policyAudited = variant((flow) => {
  flow.event_type = { type: 5 };
  flow.verdict = 'AUDIT';
  delete flow.is_reply;
  flow.traffic_direction = 'EGRESS';
  flow.egress_denied_by = [{ name: 'my-policy', namespace: 'my-policy-namespace', kind: 'CiliumNetworkPolicy' }];
});

function printAll(options: Partial<PrinterOptions> & Pick<PrinterOptions, 'format'>, records: FlowRecord[]): { out: string; err: string } {
  const printer = new FlowPrinter({ timeZone: UTC, ipTranslation: false, ...options });
  let out = '';
  let err = '';
  for (const one of records) {
    const printed = printer.print(one);
    out += printed.out;
    err += printed.err;
  }
  return { out: out + printer.finish(), err };
}

const S = '1.1.1.1:31793 (health)';
const D = '2.2.2.2:8080 (ID:12345)';

test('flows: the layouts of hubble printer_test.go TestPrinter_WriteProtoFlow', () => {
  const cases: { name: string; options: Partial<PrinterOptions> & Pick<PrinterOptions, 'format'>; input: FlowRecord; expected: string }[] = [
    {
      name: 'tabular',
      options: { format: 'table' },
      input: base,
      expected: 'TIMESTAMP             SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\nJan  1 00:20:34.567   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN\n',
    },
    {
      name: 'tabular-with-node',
      options: { format: 'table', nodeName: true },
      input: base,
      expected: 'TIMESTAMP             NODE   SOURCE          DESTINATION    TYPE            VERDICT   SUMMARY\nJan  1 00:20:34.567   k8s1   1.1.1.1:31793   2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN\n',
    },
    { name: 'compact', options: { format: 'compact' }, input: base, expected: `Jan  1 00:20:34.567: ${S} -> ${D} Policy denied DROPPED (TCP Flags: SYN)\n` },
    { name: 'compact-with-node', options: { format: 'compact', nodeName: true }, input: base, expected: `Jan  1 00:20:34.567 [k8s1]: ${S} -> ${D} Policy denied DROPPED (TCP Flags: SYN)\n` },
    {
      name: 'compact-with-trace-id',
      options: { format: 'compact', nodeName: true },
      input: withTraceId,
      expected: `Jan  1 00:20:34.567 [k8s1]: ${S} -> ${D} Policy denied DROPPED (IP Trace ID: 1234; TCP Flags: SYN)\n`,
    },
    { name: 'compact-reply', options: { format: 'compact', nodeName: true }, input: reply, expected: `Jan  1 00:20:34.567 [k8s1]: ${D} <- ${S} Policy denied DROPPED (TCP Flags: SYN)\n` },
    {
      name: 'compact-policy-verdict-denied',
      options: { format: 'compact', nodeName: true },
      input: policyDenied,
      expected: `Jan  1 00:20:34.567 [k8s1]: ${S} <> ${D} policy-verdict:none EGRESS DENIED (TCP Flags: SYN)\n`,
    },
    {
      name: 'compact-policy-verdict-denied-with-policy-name',
      options: { format: 'compact', nodeName: true, policyNames: true },
      input: policyDenied,
      expected: `Jan  1 00:20:34.567 [k8s1]: ${S} <> ${D} policy-verdict:none EGRESS DENIED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)\n`,
    },
    {
      name: 'compact-policy-verdict-allowed-with-policy-name',
      options: { format: 'compact', nodeName: true, policyNames: true },
      input: policyAllowed,
      expected: `Jan  1 00:20:34.567 [k8s1]: ${S} <> ${D} policy-verdict:L3-Only INGRESS ALLOWED BY my-policy (CiliumNetworkPolicy), my-policy-2 (CiliumClusterwideNetworkPolicy) (TCP Flags: SYN)\n`,
    },
    {
      name: 'compact-policy-verdict-audited-with-policy-name',
      options: { format: 'compact', nodeName: true, policyNames: true },
      input: policyAudited,
      expected: `Jan  1 00:20:34.567 [k8s1]: ${S} <> ${D} policy-verdict:none EGRESS AUDITED BY my-policy (CiliumNetworkPolicy) (TCP Flags: SYN)\n`,
    },
    { name: 'compact-direction-unknown', options: { format: 'compact', nodeName: true }, input: unknownDirection, expected: `Jan  1 00:20:34.567 [k8s1]: ${S} <> ${D} Policy denied DROPPED (TCP Flags: SYN)\n` },
    { name: 'jsonpb', options: { format: 'jsonpb' }, input: base, expected: `${printerLines[0]}\n` },
    { name: 'json (an alias of jsonpb in the hubble CLI)', options: { format: 'json' }, input: withTraceId, expected: `${printerLines[1]}\n` },
    {
      name: 'dict',
      options: { format: 'dict' },
      input: base,
      expected: '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n       TYPE: Policy denied\n    VERDICT: DROPPED\n    SUMMARY: TCP Flags: SYN\n',
    },
    {
      name: 'dict-with-node',
      options: { format: 'dict', nodeName: true },
      input: base,
      expected: '  TIMESTAMP: Jan  1 00:20:34.567\n       NODE: k8s1\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n       TYPE: Policy denied\n    VERDICT: DROPPED\n    SUMMARY: TCP Flags: SYN\n',
    },
    {
      name: 'dict-with-policy-name',
      options: { format: 'dict', policyNames: true },
      input: policyDenied,
      expected: '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n       TYPE: policy-verdict:none EGRESS\n    VERDICT: DENIED BY my-policy (CiliumNetworkPolicy)\n    SUMMARY: TCP Flags: SYN\n',
    },
  ];
  for (const { name, options, input, expected } of cases) {
    assert.equal(printAll(options, [input]).out, expected, name);
  }
});

test('lost events: the layouts of TestPrinter_WriteLostEventsResponse', () => {
  const plain = record(printerLines[2]);
  const withNode = record(printerLines[3]);
  const withWindow = record(printerLines[4]);
  const cases: { name: string; options: Partial<PrinterOptions> & Pick<PrinterOptions, 'format'>; input: FlowRecord; expected: string }[] = [
    {
      name: 'tabular',
      options: { format: 'table' },
      input: plain,
      expected: 'TIMESTAMP             SOURCE               DESTINATION   TYPE          VERDICT   SUMMARY\nJan  1 00:20:34.567   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1\n',
    },
    { name: 'compact', options: { format: 'compact' }, input: plain, expected: 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1\n' },
    { name: 'jsonpb', options: { format: 'jsonpb' }, input: plain, expected: `${printerLines[2]}\n` },
    { name: 'dict', options: { format: 'dict' }, input: plain, expected: '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: HUBBLE_RING_BUFFER\n       TYPE: EVENTS LOST\n    VERDICT: -\n    SUMMARY: CPU(5) - 1\n' },
    {
      name: 'tabular with node',
      options: { format: 'table', nodeName: true },
      input: withNode,
      expected: 'TIMESTAMP             NODE        SOURCE               DESTINATION   TYPE          VERDICT   SUMMARY\nJan  1 00:20:34.567   node-name   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1\n',
    },
    { name: 'compact with node', options: { format: 'compact', nodeName: true }, input: withNode, expected: 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1\n' },
    {
      name: 'dict with node',
      options: { format: 'dict', nodeName: true },
      input: withNode,
      expected: '  TIMESTAMP: Jan  1 00:20:34.567\n       NODE: node-name\n     SOURCE: HUBBLE_RING_BUFFER\n       TYPE: EVENTS LOST\n    VERDICT: -\n    SUMMARY: CPU(5) - 1\n',
    },
    {
      name: 'tabular with timestamps',
      options: { format: 'table' },
      input: withWindow,
      expected:
        'TIMESTAMP             SOURCE               DESTINATION   TYPE          VERDICT   SUMMARY\nJan  1 00:20:34.567   HUBBLE_RING_BUFFER   -             EVENTS LOST   -         CPU(5) - 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)\n',
    },
    {
      name: 'compact with timestamps',
      options: { format: 'compact' },
      input: withWindow,
      expected: 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)\n',
    },
    {
      name: 'dict with timestamps',
      options: { format: 'dict' },
      input: withWindow,
      expected: '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: HUBBLE_RING_BUFFER\n       TYPE: EVENTS LOST\n    VERDICT: -\n    SUMMARY: CPU(5) - 1 (first: Jan  1 00:20:30.567, last: Jan  1 00:20:38.567)\n',
    },
  ];
  for (const { name, options, input, expected } of cases) {
    assert.equal(printAll(options, [input]).out, expected, name);
  }
});

test('dict separates records with a dashed line; table has one header and aligns every row', () => {
  const dict = printAll({ format: 'dict' }, [base, record(printerLines[2])]).out;
  assert.equal(dict.split('\n------------\n').length, 2);
  assert.ok(dict.startsWith('  TIMESTAMP: '));
  const table = printAll({ format: 'table' }, [base, record(printerLines[2]), reply]).out.trimEnd().split('\n');
  assert.equal(table.length, 4);
  assert.equal(table.filter((line) => line.startsWith('TIMESTAMP')).length, 1);
  const summaryColumn = table[0]!.indexOf('SUMMARY');
  for (const line of table.slice(1)) assert.match(line.slice(summaryColumn - 3, summaryColumn), /^ {3}$/);
});

test('debug events and other non-GetFlows records print nothing; node errors go to stderr', () => {
  assert.deepEqual(printAll({ format: 'compact' }, [record(printerLines[5])]), { out: '', err: '' });
  assert.deepEqual(printAll({ format: 'json' }, [record(printerLines[5])]), { out: '', err: '' });
  const unavailable: FlowRecord = { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['a', 'b'] }, node_name: 'relay', time: '1970-01-01T00:20:34.567800Z' };
  const connected: FlowRecord = { node_status: { state_change: 'NODE_CONNECTED', node_names: ['a'] }, time: '1970-01-01T00:20:34.567800Z' };
  assert.deepEqual(printAll({ format: 'compact' }, [unavailable, connected]), { out: '', err: 'Jan  1 00:20:34.567 [relay]: 2 nodes are unavailable: a, b\n' });
  const failed: FlowRecord = { node_status: { state_change: 'NODE_ERROR', node_names: ['a'], message: 'boom' }, time: '1970-01-01T00:20:34.567800Z' };
  assert.equal(printAll({ format: 'compact' }, [failed]).err, 'Jan  1 00:20:34.567 []: Error "boom" on 1 nodes: a\n');
  assert.equal(printAll({ format: 'jsonpb' }, [failed]).err, `${JSON.stringify(failed)}\n`);
});

test('host names: pods, services, DNS names, IPs, ethernet (Test_getHostNames, TestHostname)', () => {
  const printer = new FlowPrinter({ format: 'compact', timeZone: UTC });
  const numeric = new FlowPrinter({ format: 'compact', timeZone: UTC, ipTranslation: false });
  const ip = { source: '1.1.1.1', destination: '2.2.2.2' };
  const tcp = { TCP: { source_port: 55555, destination_port: 80 } };
  const cases: { name: string; flow: Flow; want: [string, string]; numericWant?: [string, string] }[] = [
    { name: 'nil ip', flow: {}, want: ['', ''] },
    { name: 'valid ips', flow: { IP: ip }, want: ['1.1.1.1', '2.2.2.2'] },
    { name: 'endpoints', flow: { IP: ip, source: { namespace: 'srcns', pod_name: 'srcpod' }, destination: { namespace: 'dstns', pod_name: 'dstpod' } }, want: ['srcns/srcpod', 'dstns/dstpod'], numericWant: ['1.1.1.1', '2.2.2.2'] },
    { name: 'tcp', flow: { IP: ip, l4: tcp }, want: ['1.1.1.1:55555', '2.2.2.2:80'] },
    { name: 'udp', flow: { IP: ip, l4: { UDP: { source_port: 55555, destination_port: 53 } } }, want: ['1.1.1.1:55555', '2.2.2.2:53'] },
    { name: 'sctp', flow: { IP: ip, l4: { SCTP: { source_port: 55555, destination_port: 5060 } } }, want: ['1.1.1.1:55555', '2.2.2.2:5060'] },
    {
      name: 'services',
      flow: { IP: ip, l4: tcp, source_service: { name: 'xwing', namespace: 'default' }, destination_service: { name: 'tiefighter', namespace: 'deathstar' } },
      want: ['default/xwing:55555', 'deathstar/tiefighter:80'],
    },
    { name: 'pod wins over service, service namespace wins', flow: { IP: ip, source: { namespace: 'a', pod_name: 'pod' }, source_service: { name: 'svc', namespace: 'b' } }, want: ['b/pod', '2.2.2.2'] },
    { name: 'dns names', flow: { IP: ip, l4: { TCP: { source_port: 54321, destination_port: 65432 } }, source_names: ['a'], destination_names: ['b', 'c'] }, want: ['a:54321', 'b,c:65432'] },
    { name: 'port 0 is left out', flow: { IP: ip, l4: { TCP: { destination_port: 80 } } }, want: ['1.1.1.1', '2.2.2.2:80'] },
    { name: 'IPv6 in brackets', flow: { IP: { source: 'fd00::1', destination: 'fd00::2' }, l4: tcp }, want: ['[fd00::1]:55555', '[fd00::2]:80'] },
    { name: 'ethernet', flow: { ethernet: { source: '00:01:02:03:04:05', destination: '06:07:08:09:0a:0b' } }, want: ['00:01:02:03:04:05', '06:07:08:09:0a:0b'] },
  ];
  for (const { name, flow, want, numericWant } of cases) {
    assert.deepEqual(printer.hostNames(flow), want, name);
    if (numericWant) assert.deepEqual(numeric.hostNames(flow), numericWant, `${name} (numeric)`);
  }
});

test('flow types (Test_getFlowType)', () => {
  const cases: { flow: Flow; want: string }[] = [
    { flow: { l7: { type: 'REQUEST' }, event_type: { type: 129 } }, want: 'l7-request' },
    { flow: { l7: { type: 'RESPONSE', http: {} }, event_type: { type: 129 } }, want: 'http-response' },
    { flow: { l7: { type: 'REQUEST', dns: { observation_source: 'proxy' } }, event_type: { type: 129 } }, want: 'dns-request proxy' },
    { flow: { event_type: { type: 4, sub_type: 2 } }, want: 'to-host' },
    { flow: { event_type: { type: 4 } }, want: 'to-endpoint' },
    { flow: { verdict: 'FORWARDED', event_type: { type: 5 }, policy_match_type: 2, traffic_direction: 'INGRESS' }, want: 'policy-verdict:L3-L4 INGRESS' },
    { flow: { verdict: 'DROPPED', event_type: { type: 5 }, traffic_direction: 'INGRESS' }, want: 'policy-verdict:none INGRESS' },
    { flow: { verdict: 'TRACED', event_type: { type: 7, sub_type: 1 }, sock_xlate_point: 'SOCK_XLATE_POINT_PRE_DIRECTION_FWD' }, want: 'pre-xlate-fwd' },
    { flow: { verdict: 'TRANSLATED', event_type: { type: 7, sub_type: 2 }, sock_xlate_point: 'SOCK_XLATE_POINT_POST_DIRECTION_FWD' }, want: 'post-xlate-fwd' },
    { flow: { event_type: { type: 3 }, debug_capture_point: 'DBG_CAPTURE_FROM_LB' }, want: 'DBG_CAPTURE_FROM_LB' },
    { flow: { event_type: { type: 4, sub_type: 123 } }, want: '123' },
    { flow: { event_type: { type: 1, sub_type: 181 } }, want: 'Policy denied by denylist' },
    { flow: { event_type: { type: 1, sub_type: 250 } }, want: '250, 0' },
    { flow: {}, want: 'UNKNOWN' },
  ];
  for (const { flow, want } of cases) assert.equal(flowType(flow), want, JSON.stringify(flow));
});

test('timestamps (Test_fmtTimestamp) and every --time-format, in an injected zone', () => {
  assert.equal(formatTime(0n, 'StampMilli', UTC), 'Jan  1 00:00:00.000');
  assert.equal(formatTime(1530984600_123000000n, 'StampMilli', UTC), 'Jul  7 17:30:00.123');
  const invalid = printAll({ format: 'compact' }, [variant((flow) => (flow.time = 'not a time'))]).out;
  assert.match(invalid, /^N\/A: /);
  const missing = printAll({ format: 'compact' }, [variant((flow) => delete flow.time)]).out;
  assert.match(missing, /^N\/A: /);
  const ns = 1_700_000_000_120_000_000n; // 2023-11-14T22:13:20.12Z, a Tuesday
  const plusTwo = { offsetMinutes: () => 120 };
  const cases: [TimeFormat, string, string][] = [
    ['StampMilli', 'Nov 14 22:13:20.120', 'Nov 15 00:13:20.120'],
    ['YearMonthDay', '2023-11-14', '2023-11-15'],
    ['YearMonthDayHour', '2023-11-14T22Z', '2023-11-15T00+02:00'],
    ['YearMonthDayHourMinute', '2023-11-14T22:13Z', '2023-11-15T00:13+02:00'],
    ['RFC3339', '2023-11-14T22:13:20Z', '2023-11-15T00:13:20+02:00'],
    ['RFC3339Milli', '2023-11-14T22:13:20.12Z', '2023-11-15T00:13:20.12+02:00'],
    ['RFC3339Micro', '2023-11-14T22:13:20.12Z', '2023-11-15T00:13:20.12+02:00'],
    ['RFC3339Nano', '2023-11-14T22:13:20.12Z', '2023-11-15T00:13:20.12+02:00'],
    ['RFC1123Z', 'Tue, 14 Nov 2023 22:13:20 +0000', 'Wed, 15 Nov 2023 00:13:20 +0200'],
  ];
  for (const [format, utc, shifted] of cases) {
    assert.equal(formatTime(ns, format, UTC), utc, format);
    assert.equal(formatTime(ns, format, plusTwo), shifted, `${format} +02:00`);
  }
  assert.equal(formatTime(1_000_000_000n, 'RFC3339Milli', UTC), '1970-01-01T00:00:01Z');
  assert.equal(parseTimeFormat('rfc3339nano'), 'RFC3339Nano');
  assert.equal(parseTimeFormat('Kitchen'), undefined);
});

test('real hubble lines keep their recorded summary; arrows follow is_reply', () => {
  const printer = new FlowPrinter({ format: 'compact', timeZone: UTC });
  const lines = sampleLines.map((line) => printer.print(record(line)).out);
  // Line 3: host -> bookinfo pod, no is_reply: direction unknown.
  assert.equal(lines[2], 'Jun 16 16:52:13.136: 10.0.2.1:42044 (host) <> bookinfo/reviews-v1-545db77b95-s6jb8:15020 (ID:25339) to-endpoint FORWARDED (TCP Flags: ACK, FIN)\n');
  // Line 10: a DNS response (is_reply) is printed from the requester's side with <-.
  assert.match(lines[9]!, / <- kube-system\/kube-dns-[^ ]+:53 \(ID:\d+\) dns-response proxy FORWARDED \(DNS Answer RCode: Non-Existent Domain TTL: 4294967295 \(Proxy istiod-istio-1611\.istio-system\.svc\.istio-system\.svc\.cluster\.local\. A\)\)\n$/);
  // Lines 1-2: field-masked exporter output with no event_type or summary: hubble's UNKNOWN type, a derived summary.
  assert.equal(lines[0], 'Aug 21 12:12:13.517: fe80::64d8:8aff:fe72:fc14 (unknown) <> ff02::2 (unknown) UNKNOWN DROPPED (ICMPv6 RouterSolicitation)\n');
  assert.equal(lines[1], 'Aug 21 12:12:18.510: default/xwing:44916 (unknown) <> default/deathstar-7848d6c4d5-th9v2:80 (unknown) UNKNOWN DROPPED (TCP Flags: SYN)\n');
});

test('derived summaries match the summaries Cilium wrote on the real sample lines', () => {
  let compared = 0;
  for (const line of sampleLines) {
    const flow = record(line).flow;
    if (flow?.Summary === undefined) continue;
    assert.equal(derivedSummary(flow), flow.Summary, line);
    compared++;
  }
  assert.ok(compared >= 30, `compared ${compared} summaries`);
});

test('terminal control characters in names are neutralised', () => {
  const hostile = variant((flow) => {
    flow.source = { namespace: 'ns', pod_name: 'evil\x1b[31m\rpod', identity: 4 };
  });
  const out = new FlowPrinter({ format: 'compact', timeZone: UTC }).print(hostile).out;
  assert.ok(!out.includes('\x1b') && !out.includes('\r'));
  assert.match(out, /ns\/evil\^\[\[31m\\rpod:31793/);
});

test('auth type is appended to the summary', () => {
  const spire = variant((flow) => (flow.auth_type = 'SPIRE'));
  assert.match(printAll({ format: 'compact' }, [spire]).out, /\(TCP Flags: SYN; Auth: SPIRE\)\n$/);
});
