import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { compileFlowRequest, type FlowRequestJson } from '../flow/filter.js';
import type { FlowRecord } from '../flow/model.js';
import { CliError } from './common.js';
import { addFlowFilterOptions } from './flow-flags.js';

const FIXTURE = new URL('../../../../shared/fixtures/hubble/hubble-observe-samples.jsonl', import.meta.url);
/** 2023-11-14T22:13:20Z */
const NOW_NS = 1_700_000_000_000_000_000n;

function parse(argv: string[]): FlowRequestJson {
  const command = new Command('observe').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  const flags = addFlowFilterOptions(command, { nowNs: () => NOW_NS });
  command.action(() => undefined);
  command.parse(argv, { from: 'user' });
  return flags.request();
}

describe('hubble observe flags → GetFlowsRequest', () => {
  const cases: { argv: string[]; expected: FlowRequestJson }[] = [
    { argv: [], expected: {} },
    // hubble's TestFilterDispatch
    {
      argv: ['--from-ip', '1.2.3.4', '--from-ip', '5.6.7.8', '--not', '--to-ip', '5.5.5.5', '--verdict', 'DROPPED', '-t', 'l7'],
      expected: { whitelist: [{ source_ip: ['1.2.3.4', '5.6.7.8'], verdict: ['DROPPED'], event_type: [{ type: 129 }] }], blacklist: [{ destination_ip: ['5.5.5.5'] }] },
    },
    // hubble's TestFilterLeftRight: --ip and --pod split into a source filter OR a destination filter
    {
      argv: ['--ip', '1.2.3.4', '--ip', '5.6.7.8', '--verdict', 'DROPPED', '--not', '--pod', 'deathstar', '--not', '--http-status', '200', '--http-method', 'get', '--http-path', '/page/\\d+', '--node-name', 'k8s*'],
      expected: {
        whitelist: [
          { source_ip: ['1.2.3.4', '5.6.7.8'], verdict: ['DROPPED'], http_method: ['get'], http_path: ['/page/\\d+'], node_name: ['k8s*'] },
          { destination_ip: ['1.2.3.4', '5.6.7.8'], verdict: ['DROPPED'], http_method: ['get'], http_path: ['/page/\\d+'], node_name: ['k8s*'] },
        ],
        blacklist: [
          { source_pod: ['deathstar'], http_status_code: ['200'] },
          { destination_pod: ['deathstar'], http_status_code: ['200'] },
        ],
      },
    },
    { argv: ['--namespace', 'bookinfo'], expected: { whitelist: [{ source_pod: ['bookinfo/'] }, { destination_pod: ['bookinfo/'] }] } },
    { argv: ['-n', 'a', '-n', 'b', '--verdict', 'DROPPED'], expected: { whitelist: [{ source_pod: ['a/', 'b/'], verdict: ['DROPPED'] }, { destination_pod: ['a/', 'b/'], verdict: ['DROPPED'] }] } },
    { argv: ['--pod', 'api', '--namespace', 'shop'], expected: { whitelist: [{ source_pod: ['shop/api'] }, { destination_pod: ['shop/api'] }] } },
    { argv: ['--from-namespace', 'a', '--to-namespace', 'b'], expected: { whitelist: [{ source_pod: ['a/'], destination_pod: ['b/'] }] } },
    { argv: ['--from-namespace', 'a', '--to-pod', 'b/x'], expected: { whitelist: [{ source_pod: ['a/'], destination_pod: ['b/x'] }] } },
    { argv: ['--to-service', 'api', '--from-namespace', 'shop'], expected: { whitelist: [{ source_pod: ['shop/'], destination_service: ['api'] }] } },
    { argv: ['-A'], expected: { whitelist: [{ source_pod: ['/'] }, { destination_pod: ['/'] }] } },
    { argv: ['--label', 'k1=v1,k2=v2', '-l', 'k3'], expected: { whitelist: [{ source_label: ['k1=v1,k2=v2', 'k3'] }, { destination_label: ['k1=v1,k2=v2', 'k3'] }] } },
    { argv: ['--from-pod', 'cilium', '--to-workload', 'app'], expected: { whitelist: [{ source_pod: ['cilium'], destination_workload: [{ name: 'app' }] }] } },
    { argv: ['--pod', 'cilium', '--to-workload', 'Deployment/app'], expected: { whitelist: [{ source_pod: ['cilium'], destination_workload: [{ name: 'app', kind: 'Deployment' }] }, { destination_pod: ['cilium'], destination_workload: [{ name: 'app', kind: 'Deployment' }] }] } },
    {
      argv: ['-t', '254', '-t', '255:127', '-t', 'trace:to-endpoint', '-t', 'trace:from-endpoint', '-t', '4:2', '-t', 'agent', '-t', 'agent:3', '-t', 'agent:policy-updated', '-t', 'drop', '-t', 'policy-verdict'],
      expected: {
        whitelist: [
          {
            event_type: [
              { type: 254 },
              { type: 255, match_sub_type: true, sub_type: 127 },
              { type: 4, match_sub_type: true, sub_type: 0 },
              { type: 4, match_sub_type: true, sub_type: 5 },
              { type: 4, match_sub_type: true, sub_type: 2 },
              { type: 130 },
              { type: 130, match_sub_type: true, sub_type: 3 },
              { type: 130, match_sub_type: true, sub_type: 5 },
              { type: 1 },
              { type: 5 },
            ],
          },
        ],
      },
    },
    { argv: ['--identity', 'world', '--identity', '0x10'], expected: { whitelist: [{ source_identity: [2, 16] }, { destination_identity: [2, 16] }] } },
    { argv: ['--from-identity', 'kube-apiserver', '--to-identity', '12345'], expected: { whitelist: [{ source_identity: [7], destination_identity: [12345] }] } },
    { argv: ['--port', '53', '--protocol', 'udp'], expected: { whitelist: [{ protocol: ['udp'], source_port: ['53'] }, { protocol: ['udp'], destination_port: ['53'] }] } },
    { argv: ['--tcp-flags', 'syn,ack', '--tcp-flags', 'fin'], expected: { whitelist: [{ tcp_flags: [{ SYN: true, ACK: true }, { FIN: true }] }] } },
    { argv: ['--traffic-direction', 'Ingress', '--drop-reason-desc', 'policy_denied', '--verdict', 'dropped'], expected: { whitelist: [{ traffic_direction: ['INGRESS'], verdict: ['DROPPED'], drop_reason_desc: ['POLICY_DENIED'] }] } },
    { argv: ['-4', '--ip-version', 'v6', '--encrypted'], expected: { whitelist: [{ ip_version: ['IPv4', 'IPv6'], encrypted: [true] }] } },
    { argv: ['--fqdn', '*.cilium.io'], expected: { whitelist: [{ source_fqdn: ['*.cilium.io'] }, { destination_fqdn: ['*.cilium.io'] }] } },
    { argv: ['--cluster', 'east', '--http-header', 'x-id:7:8', '--http-url', 'x'], expected: { whitelist: [{ source_cluster_name: ['east'], http_url: ['x'], http_header: [{ key: 'x-id', value: '7:8' }] }, { destination_cluster_name: ['east'], http_url: ['x'], http_header: [{ key: 'x-id', value: '7:8' }] }] } },
    { argv: ['--allowlist', '{"verdict":["DROPPED"]}', '--denylist', '[{"source_pod":["kube-system/"]}]'], expected: { whitelist: [{ verdict: ['DROPPED'] }], blacklist: [{ source_pod: ['kube-system/'] }] } },
    // selectors
    { argv: ['--last', '10'], expected: { number: '10' } },
    { argv: ['--first', '5'], expected: { number: '5', first: true } },
    { argv: ['--all'], expected: { number: '18446744073709551615' } },
    { argv: ['--all', '--since', '1h'], expected: { since: '2023-11-14T21:13:20Z' } },
    { argv: ['-f'], expected: { follow: true } },
    { argv: ['--since', '5m', '--until', '1h30m', '--last', '3'], expected: { number: '3', since: '2023-11-14T22:08:20Z', until: '2023-11-14T20:43:20Z' } },
    { argv: ['--since', '1.5s'], expected: { since: '2023-11-14T22:13:18.500Z' } },
    { argv: ['--since', '2024-05-01'], expected: { since: '2024-05-01T00:00:00Z' } },
    { argv: ['--since', '2024-05-01T12+02:00'], expected: { since: '2024-05-01T10:00:00Z' } },
    { argv: ['--since', '2024-05-01T12:30:00.25-01:00'], expected: { since: '2024-05-01T13:30:00.250Z' } },
    { argv: ['--since', 'Wed, 01 May 2024 12:00:00 +0000'], expected: { since: '2024-05-01T12:00:00Z' } },
    { argv: ['--until', '10m', '--follow'], expected: { follow: true } },
  ];
  for (const { argv, expected } of cases) {
    it(argv.join(' ') || '(no flags)', () => assert.deepEqual(parse(argv), expected));
  }
});

describe('--not is order-sensitive', () => {
  const cases: { argv: string[]; expected: FlowRequestJson }[] = [
    { argv: ['--not', '--namespace', 'kube-system', '--verdict', 'DROPPED'], expected: { whitelist: [{ verdict: ['DROPPED'] }], blacklist: [{ source_pod: ['kube-system/'] }, { destination_pod: ['kube-system/'] }] } },
    { argv: ['--verdict', 'DROPPED', '--not', '--namespace', 'kube-system'], expected: { whitelist: [{ verdict: ['DROPPED'] }], blacklist: [{ source_pod: ['kube-system/'] }, { destination_pod: ['kube-system/'] }] } },
    { argv: ['--namespace', 'kube-system', '--not', '--verdict', 'DROPPED'], expected: { whitelist: [{ source_pod: ['kube-system/'] }, { destination_pod: ['kube-system/'] }], blacklist: [{ verdict: ['DROPPED'] }] } },
    // --not reaches past selector flags to the next filter flag, as in hubble.
    { argv: ['--not', '--last', '5', '--protocol', 'tcp'], expected: { number: '5', blacklist: [{ protocol: ['tcp'] }] } },
    // Repeated --not filters land in one blacklist filter: flows matching both are left out (hubble's behaviour).
    { argv: ['--not', '--protocol', 'tcp', '--not', '--to-port', '80'], expected: { blacklist: [{ protocol: ['tcp'], destination_port: ['80'] }] } },
    { argv: ['--not', '--verdict', 'DROPPED', '--not', '--verdict', 'AUDIT'], expected: { blacklist: [{ verdict: ['DROPPED', 'AUDIT'] }] } },
  ];
  for (const { argv, expected } of cases) it(argv.join(' '), () => assert.deepEqual(parse(argv), expected));
});

describe('bad flags are usage errors with a next step', () => {
  const cases: { argv: string[]; message: RegExp }[] = [
    { argv: ['--from-ip', '1.1.1.1', '--not'], message: /trailing --not/ },
    { argv: ['--not', '--not', '--pod', 'x'], message: /consecutive --not/ },
    { argv: ['--from-ip', '1.2.3.4', '--from-fqdn', 'a.b'], message: /--from-fqdn and --from-ip cannot be combined/ },
    { argv: ['--namespace', 'a', '--from-namespace', 'b'], message: /cannot be combined/ },
    { argv: ['--port', '1', '--to-port', '2'], message: /--to-port and --port cannot be combined/ },
    { argv: ['--namespace', 'a', '--pod', 'b/x'], message: /namespace conflict/ },
    { argv: ['--from-pod', 'a/x', '--from-service', 'b/y'], message: /conflicts with pod/ },
    { argv: ['--verdict', 'DENIED'], message: /invalid --verdict/ },
    { argv: ['--drop-reason-desc', 'NOPE'], message: /invalid --drop-reason-desc/ },
    { argv: ['-t', 'some-invalid-type'], message: /not a known type name/ },
    { argv: ['-t', 'trace:some-invalid-sub-type'], message: /not a known sub-type/ },
    { argv: ['-t', 'agent:Policy updated'], message: /not a known sub-type/ },
    { argv: ['--tcp-flags', 'syn,nope'], message: /unknown tcp flag/ },
    { argv: ['--traffic-direction', 'up'], message: /not a traffic direction/ },
    { argv: ['--identity', 'nobody'], message: /invalid security identity/ },
    { argv: ['--ip-version', 'v5'], message: /not an IP version/ },
    { argv: ['--http-header', 'novalue'], message: /invalid --http-header/ },
    { argv: ['--ip-trace-id', '0'], message: /ip-trace-id/ },
    { argv: ['--last', 'ten'], message: /--last "ten" is not a number/ },
    { argv: ['--first', '1', '--last', '2'], message: /--first and --last/ },
    { argv: ['--first', '1', '--follow'], message: /--first and --follow/ },
    { argv: ['--last', '1', '--all'], message: /--last and --all/ },
    { argv: ['--since', 'yesterday'], message: /neither a duration nor a time/ },
    { argv: ['--since', '2024-02-30'], message: /neither a duration nor a time/ },
    { argv: ['--until', '5x'], message: /neither a duration nor a time/ },
    { argv: ['--from-ip', '10.0.0.0/33'], message: /invalid filter: whitelist\[0\]\.source_ip\[0\]: invalid IP prefix/ },
    { argv: ['--http-path', '(unclosed'], message: /invalid regular expression/ },
    { argv: ['--type', 'trace', '--http-status', '5+'], message: /only match 'l7'/ },
    { argv: ['--protocol', 'quic'], message: /unknown protocol/ },
    { argv: ['--label', 'app in ()'], message: /invalid label selector/ },
    { argv: ['--allowlist', '{nope'], message: /--allowlist is not JSON/ },
    { argv: ['--denylist', '{"bogus":[1]}'], message: /not a FlowFilter field/ },
  ];
  for (const { argv, message } of cases) {
    it(argv.join(' '), () => {
      assert.throws(
        () => parse(argv),
        (error: unknown) => {
          assert.ok(error instanceof CliError, `expected CliError, got ${String(error)}`);
          assert.equal(error.code, 'PODGATE_E_USAGE');
          assert.match(error.message, message);
          assert.ok(error.hint !== undefined && error.hint.length > 0);
          return true;
        },
      );
    });
  }
});

describe('flags over the hubble observe samples', () => {
  const present = existsSync(FIXTURE);
  const records = present
    ? readFileSync(FIXTURE, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as FlowRecord)
    : [];
  const cases: { argv: string[]; count: number }[] = [
    { argv: ['--verdict', 'DROPPED'], count: 2 },
    { argv: ['--from-namespace', 'bookinfo'], count: 11 },
    { argv: ['--namespace', 'bookinfo'], count: 18 },
    { argv: ['--type', 'l7'], count: 8 },
    { argv: ['--http-status', '5+'], count: 1 },
    { argv: ['--not', '--protocol', 'tcp'], count: 8 },
    { argv: ['--namespace', 'bookinfo', '--not', '--protocol', 'tcp'], count: 18 - records.filter((record) => record.flow?.l4?.TCP && (record.flow.source?.namespace === 'bookinfo' || record.flow.destination?.namespace === 'bookinfo')).length },
    { argv: ['--verdict', 'DROPPED', '--verdict', 'REDIRECTED'], count: 2 + records.filter((record) => record.flow?.verdict === 'REDIRECTED').length },
  ];
  for (const { argv, count } of cases) {
    it(argv.join(' '), { skip: present ? false : `fixture missing: ${FIXTURE.pathname}` }, () => {
      const compiled = compileFlowRequest(parse(argv));
      assert.equal(records.filter((record) => compiled.matches(record)).length, count);
    });
  }
});
