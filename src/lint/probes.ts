/**
 * Kubelet probes against policy: every httpGet / tcpSocket / grpc probe of a Pod or workload
 * template becomes a connection from the pod's node to the pod, decided by the engine.
 */
import type { Endpoint } from '../cluster/endpoint.js';
import { podEndpoint } from '../cluster/endpoint.js';
import { WORKLOAD_KINDS, type Pod } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { isRecord, type LocatedObject } from '../manifest/document.js';
import type { Path } from '../manifest/issue.js';
import type { PolicyEngine } from '../policy/engine.js';
import { selects } from '../policy/selector.js';
import type { Connection } from '../policy/verdict.js';
import { planFixes } from '../explain/fix.js';
import type { Scenario } from '../scenario/load.js';
import { listSome, plural, type Finding } from './findings.js';
import { denialText } from './verdict-text.js';

const PROBE_KINDS = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
const HANDLERS = ['httpGet', 'tcpSocket', 'grpc'] as const;

export interface Probe {
  readonly kind: (typeof PROBE_KINDS)[number];
  readonly container: string;
  readonly handler: (typeof HANDLERS)[number];
  /** The port as written: a number or a container port name. */
  readonly portText: number | string;
  /** Resolved against the container's ports; undefined when the name is not declared. */
  readonly port: number | undefined;
  readonly httpPath?: string;
  readonly https: boolean;
  /** Where the probe's port field is in the object. */
  readonly path: Path;
}

export interface ProbeOwner {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly object: LocatedObject;
  readonly probes: readonly Probe[];
}

/** Where the pod spec sits in each kind that carries one. */
function podSpecPath(kind: string): Path | undefined {
  if (kind === 'Pod') return ['spec'];
  if (kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template', 'spec'];
  if ((WORKLOAD_KINDS as readonly string[]).includes(kind)) return ['spec', 'template', 'spec'];
  return undefined;
}

function at(value: unknown, path: Path): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof segment === 'number') current = Array.isArray(current) ? current[segment] : undefined;
    else current = isRecord(current) ? current[segment] : undefined;
  }
  return current;
}

/** Probes declared in one manifest object (none when it is not a pod or workload, or has none). */
export function probesOf(object: LocatedObject): ProbeOwner | undefined {
  const value = object.value;
  if (!isRecord(value) || typeof value['kind'] !== 'string') return undefined;
  const kind = value['kind'];
  const specPath = podSpecPath(kind);
  const metadata = value['metadata'];
  if (specPath === undefined || !isRecord(metadata) || typeof metadata['name'] !== 'string') return undefined;
  const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default';
  const spec = at(value, specPath);
  if (!isRecord(spec) || spec['hostNetwork'] === true) return undefined;
  const probes: Probe[] = [];
  for (const list of ['containers', 'initContainers'] as const) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, index) => {
      if (!isRecord(container)) return;
      // Init containers are probed only when they keep running (native sidecars).
      if (list === 'initContainers' && container['restartPolicy'] !== 'Always') return;
      for (const probeKind of PROBE_KINDS) {
        const probe = container[probeKind];
        if (!isRecord(probe)) continue;
        for (const handler of HANDLERS) {
          const action = probe[handler];
          if (!isRecord(action)) continue;
          // A probe with its own host goes somewhere else than the pod.
          if (handler === 'httpGet' && typeof action['host'] === 'string' && action['host'] !== '') continue;
          const portText = action['port'];
          if (typeof portText !== 'number' && typeof portText !== 'string') continue;
          const port = resolvePort(container, portText);
          const path: Path = [...specPath, list, index, probeKind, handler, 'port'];
          probes.push({
            kind: probeKind,
            container: typeof container['name'] === 'string' ? container['name'] : `#${index}`,
            handler,
            portText,
            port,
            https: handler === 'httpGet' && action['scheme'] === 'HTTPS',
            path,
            ...(handler === 'httpGet' ? { httpPath: typeof action['path'] === 'string' && action['path'].startsWith('/') ? action['path'] : '/' } : {}),
          });
        }
      }
    });
  }
  return probes.length === 0 ? undefined : { kind, namespace, name: metadata['name'], object, probes };
}

/** A probe's port: a number, a numeric string, or the name of one of the container's own ports. */
function resolvePort(container: Record<string, unknown>, text: number | string): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 1 && text <= 65535 ? text : undefined;
  if (/^\d+$/.test(text)) return resolvePort(container, Number(text));
  const ports = Array.isArray(container['ports']) ? container['ports'] : [];
  for (const port of ports) {
    if (isRecord(port) && port['name'] === text && typeof port['containerPort'] === 'number' && (port['protocol'] ?? 'TCP') === 'TCP') return port['containerPort'];
  }
  return undefined;
}

/** The pods an owner's probes run against, in the engine's own cluster. */
function podsOf(cluster: ClusterState, owner: ProbeOwner): Pod[] {
  if (owner.kind === 'Pod') {
    const pod = cluster.pod(owner.namespace, owner.name);
    return pod ? [pod] : [];
  }
  const owned = cluster.pods.filter((pod) => pod.namespace === owner.namespace && pod.owner?.kind === owner.kind && pod.owner.name === owner.name);
  if (owned.length > 0) return owned;
  const workload = cluster.workloads.find((candidate) => candidate.kind === owner.kind && candidate.namespace === owner.namespace && candidate.name === owner.name);
  if (!workload) return [];
  return cluster.pods.filter((pod) => pod.namespace === owner.namespace && selects(workload.selector, pod.labels));
}

/** The kubelet's side of a probe: the pod's node when the manifests declare it, else the local host. */
export function kubeletOf(cluster: ClusterState, pod: Pod): Endpoint {
  const node = pod.nodeName === undefined ? undefined : cluster.node(pod.nodeName);
  return node ? { kind: 'node', node, name: `kubelet on ${node.name}` } : { kind: 'node', role: 'host', name: 'kubelet (host)' };
}

export function probeFindings(options: { scenario: Scenario; engine: PolicyEngine; objects: readonly LocatedObject[] }): Finding[] {
  const { engine, scenario } = options;
  const findings: Finding[] = [];
  for (const object of options.objects) {
    const owner = probesOf(object);
    if (!owner) continue;
    const name = `${owner.kind} ${owner.namespace}/${owner.name}`;
    const pods = podsOf(engine.cluster, owner);
    for (const probe of owner.probes) {
      const what = `${probe.kind} of container ${probe.container} (${probe.handler} port ${JSON.stringify(probe.portText)})`;
      if (probe.port === undefined) {
        findings.push({
          code: 'PODGATE_E_LINT_PROBE_PORT',
          message: `${what}: the container declares no TCP port named ${JSON.stringify(probe.portText)}, so the probe always fails`,
          hint: 'name one of the container\'s ports, or give the port number',
          at: { object, path: probe.path, name },
        });
        continue;
      }
      const denied: { pod: Pod; connection: Connection; text: string }[] = [];
      for (const pod of pods) {
        const connection: Connection = {
          src: kubeletOf(engine.cluster, pod),
          dst: podEndpoint(engine.cluster, pod),
          protocol: 'TCP',
          port: probe.port,
          // Plain-text HTTP probes are requests the L7 proxy sees; HTTPS ones are opaque to it.
          ...(probe.httpPath !== undefined && !probe.https ? { http: { method: 'GET', path: probe.httpPath } } : {}),
        };
        const verdict = engine.evaluate(connection);
        if (!verdict.allowed) denied.push({ pod, connection, text: denialText(connection, verdict) });
      }
      const [first] = denied;
      if (!first) continue;
      const plan = planFixes(scenario, first.connection, engine.evaluate(first.connection));
      const fix = plan.fixes.map((candidate) => candidate.summary);
      findings.push({
        code: 'PODGATE_E_LINT_PROBE_BLOCKED',
        message: `${what} is blocked for ${denied.length === pods.length ? (pods.length === 1 ? 'the pod' : `all ${pods.length} pods`) : `${denied.length} of ${plural(pods.length, 'pod')}`} (${listSome(denied.map((entry) => entry.pod.name), 3)}): the kubelet's TCP/${probe.port} from the node: ${first.text}. Traffic from a pod's own node is exempt from default deny, not from deny rules, guardrails or HTTP rules`,
        hint: fix.length > 0 ? fix.join('; ') : 'allow the host entity (fromEntities: [host]) to this port, or exclude the node from the deny rule',
        at: { object, path: probe.path, name },
      });
    }
  }
  return findings;
}
