/**
 * observed-flows.tsv: the distinct (source namespace, source pod, destination namespace,
 * destination pod) pairs seen in flows, the file the widely published Cilium network-policy
 * migration guide builds with
 *
 *   hubble observe -o json | jq -r '[.source.namespace, .source.pod.name, .destination.namespace, .destination.pod.name] | @tsv' | sort -u
 *
 * That pipeline reads `.source` at the top level and `.pod.name`, but a `hubble observe -o json`
 * line is `{"flow": {"source": {"namespace": ..., "pod_name": ...}}}`, so on real output every
 * field is empty. podgate writes what the guide's reader needs, byte for byte what the corrected
 * pipeline prints:
 *
 *   jq -r 'select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv' | LC_ALL=C sort -u
 *
 * Records without a flow (lost_events, node_status) are left out. A side that is not a pod (world,
 * host, remote-node, an IP outside the cluster) has an empty pod name, and an empty namespace too
 * unless the endpoint has one; those rows are kept, as the corrected pipeline keeps them.
 */
import type { FlowRecord } from './model.js';

export const PUBLISHED_PIPELINE = "jq -r '[.source.namespace, .source.pod.name, .destination.namespace, .destination.pod.name] | @tsv' | sort -u";
export const CORRECTED_PIPELINE = "jq -r 'select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv' | LC_ALL=C sort -u";

/** jq's @tsv escaping (jq 1.6+): backslash, tab, newline and carriage return. */
export function tsvField(value: string): string {
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (character) => (character === '\\' ? '\\\\' : character === '\t' ? '\\t' : character === '\n' ? '\\n' : '\\r'));
}

/** A value as jq's @tsv prints it: null as empty, strings escaped, numbers and booleans as JSON. */
function tsvValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return tsvField(value);
  return JSON.stringify(value);
}

/** The TSV line (without newline) of one record, or undefined for a record without a flow. */
export function podPairLine(record: FlowRecord): string | undefined {
  const flow = record.flow;
  if (flow === undefined) return undefined;
  const source = flow.source;
  const destination = flow.destination;
  return `${tsvValue(source?.namespace)}\t${tsvValue(source?.pod_name)}\t${tsvValue(destination?.namespace)}\t${tsvValue(destination?.pod_name)}`;
}

/** The distinct pod pairs of a stream of records, held as their TSV lines. */
export class ObservedPodPairs {
  private readonly seen = new Set<string>();

  add(record: FlowRecord): void {
    const line = podPairLine(record);
    if (line !== undefined) this.seen.add(line);
  }

  get size(): number {
    return this.seen.size;
  }

  /** Sorted by their UTF-8 bytes, as `LC_ALL=C sort -u` sorts. */
  lines(): string[] {
    return [...this.seen].map((line) => Buffer.from(line, 'utf8')).sort(Buffer.compare).map((bytes) => bytes.toString('utf8'));
  }

  /** The whole file: one line per pair, each ending in a newline; empty when there are none. */
  toTsv(): string {
    const lines = this.lines();
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}

export async function collectPodPairs(records: AsyncIterable<FlowRecord>): Promise<ObservedPodPairs> {
  const pairs = new ObservedPodPairs();
  for await (const record of records) pairs.add(record);
  return pairs;
}
