/** Deterministic records for the store's tests and its crash-test child process. */
import { formatTimestampNs, type FlowRecord } from '../model.js';

const BASE_NS = 1_700_000_000_000_000_000n;

/** Record number `sequence`: its uuid is the sequence number and its time BASE + sequence ms. */
export function crashTestRecord(sequence: number): FlowRecord {
  const time = formatTimestampNs(BASE_NS + BigInt(sequence) * 1_000_000n);
  const port = 1024 + (sequence % 60000);
  return {
    flow: {
      time,
      uuid: String(sequence),
      verdict: sequence % 7 === 0 ? 'DROPPED' : 'FORWARDED',
      IP: { source: '10.0.1.5', destination: '10.0.2.9', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: port, destination_port: 5432, flags: { SYN: true } } },
      source: { identity: 1234, namespace: 'frontend', labels: ['k8s:app=web-gateway'], pod_name: 'web-gateway-7d9f-abcde' },
      destination: { identity: 5678, namespace: 'payments', labels: ['k8s:app=postgres'], pod_name: 'postgres-0' },
      Type: 'L3_L4',
      node_name: 'kind-worker',
      traffic_direction: 'EGRESS',
      is_reply: false,
      Summary: 'TCP Flags: SYN',
    },
    node_name: 'kind-worker',
    time,
  };
}
