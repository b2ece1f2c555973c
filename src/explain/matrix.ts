/** The pod-to-pod reachability table: every source pod against every destination pod and port. */
import { podEndpoint } from '../cluster/endpoint.js';
import type { Pod } from '../cluster/model.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Protocol } from '../policy/ports.js';
import type { Verdict } from '../policy/verdict.js';

export interface MatrixOptions {
  /** One port for every cell; without it each destination is probed on its declared container ports. */
  readonly port?: number;
  readonly protocol?: Protocol;
  /** Only pods of these namespaces, as sources and as destinations. */
  readonly namespaces?: readonly string[];
}

export interface MatrixProbe {
  readonly protocol: Protocol;
  readonly port: number;
  readonly verdict: Verdict;
}

export interface MatrixCell {
  readonly from: Pod;
  readonly to: Pod;
  readonly probes: readonly MatrixProbe[];
}

export interface Matrix {
  readonly pods: readonly Pod[];
  readonly cells: readonly MatrixCell[];
}

export function reachabilityMatrix(engine: PolicyEngine, options: MatrixOptions = {}): Matrix {
  const filter = options.namespaces && options.namespaces.length > 0 ? new Set(options.namespaces) : undefined;
  const pods = engine.cluster.pods
    .filter((pod) => !pod.hostNetwork && (!filter || filter.has(pod.namespace)))
    .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  const cells: MatrixCell[] = [];
  for (const from of pods) {
    for (const to of pods) {
      const targets = options.port !== undefined ? [{ port: options.port, protocol: options.protocol ?? 'TCP' }] : declaredPorts(to, options.protocol);
      const probes = targets.map(({ port, protocol }) => ({
        port,
        protocol,
        verdict: engine.evaluate({ src: podEndpoint(engine.cluster, from), dst: podEndpoint(engine.cluster, to), protocol, port }),
      }));
      cells.push({ from, to, probes });
    }
  }
  return { pods, cells };
}

function declaredPorts(pod: Pod, protocol: Protocol | undefined): { port: number; protocol: Protocol }[] {
  const seen = new Set<string>();
  const out: { port: number; protocol: Protocol }[] = [];
  for (const port of pod.containerPorts) {
    if (protocol !== undefined && port.protocol !== protocol) continue;
    const key = `${port.port}/${port.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ port: port.port, protocol: port.protocol });
  }
  return out;
}
