/**
 * Workloads and the labels that select them: advise writes one selector per workload, chosen from
 * labels that stay the same across replicas and rollouts, and checked to select exactly its pods.
 */
import { compareText } from '../manifest/syntax.js';
import { workloadOf } from '../cluster/workloads.js';
import type { Pod } from '../cluster/model.js';
import { isVolatileLabel, stableLabels } from '../cluster/stable-labels.js';
import type { ClusterState } from '../cluster/state.js';

export interface WorkloadGroup {
  readonly namespace: string;
  /** Unique within the namespace: the controller's name, or the pod's own name. */
  readonly name: string;
  readonly kind: string;
  /** Sorted by name. */
  readonly pods: readonly Pod[];
  /** Pod labels to select the workload with (sorted by key); empty selects the whole namespace. */
  readonly labels: ReadonlyMap<string, string>;
  /** False when no label set selects exactly these pods in their namespace. */
  readonly exact: boolean;
  /** Why the selector is not exact, for a comment. */
  readonly note?: string;
}

/** Every workload of the cluster (host-network pods are their node and are left out). */
export class WorkloadIndex {
  private readonly byPod = new Map<string, WorkloadGroup>();
  private readonly byName = new Map<string, WorkloadGroup>();
  private readonly byNamespace = new Map<string, WorkloadGroup[]>();

  constructor(cluster: ClusterState) {
    const members = new Map<string, { namespace: string; kind: string; name: string; pods: Pod[] }>();
    for (const pod of cluster.pods) {
      if (pod.hostNetwork) continue;
      const workload = workloadOf(pod);
      const key = `${pod.namespace}/${workload.name}`;
      const entry = members.get(key);
      if (entry) entry.pods.push(pod);
      else members.set(key, { namespace: pod.namespace, kind: workload.kind, name: workload.name, pods: [pod] });
    }
    const podsByNamespace = new Map<string, Pod[]>();
    for (const pod of cluster.pods) {
      if (pod.hostNetwork) continue;
      const list = podsByNamespace.get(pod.namespace);
      if (list) list.push(pod);
      else podsByNamespace.set(pod.namespace, [pod]);
    }
    for (const [key, entry] of [...members].sort(([a], [b]) => compareText(a, b))) {
      const pods = entry.pods.sort((a, b) => compareText(a.name, b.name));
      const group = { namespace: entry.namespace, kind: entry.kind, name: entry.name, pods, ...chooseSelector(pods, podsByNamespace.get(entry.namespace) ?? []) };
      this.byName.set(key, group);
      for (const pod of pods) this.byPod.set(`${pod.namespace}/${pod.name}`, group);
      const list = this.byNamespace.get(entry.namespace);
      if (list) list.push(group);
      else this.byNamespace.set(entry.namespace, [group]);
    }
  }

  ofPod(pod: Pod): WorkloadGroup | undefined {
    return this.byPod.get(`${pod.namespace}/${pod.name}`);
  }

  named(namespace: string, name: string): WorkloadGroup | undefined {
    return this.byName.get(`${namespace}/${name}`);
  }

  inNamespace(namespace: string): readonly WorkloadGroup[] {
    return this.byNamespace.get(namespace) ?? [];
  }

  /** The one workload whose pods all carry these labels, when exactly one does. */
  withLabels(namespace: string, labels: ReadonlyMap<string, string>): WorkloadGroup | undefined {
    const found = this.inNamespace(namespace).filter((group) => group.pods.some((pod) => [...labels].every(([key, value]) => pod.labels.get(key) === value)));
    return found.length === 1 ? found[0] : undefined;
  }
}

/**
 * Labels every pod of the workload shares, without controller-generated ones; the preferred naming
 * labels when they suffice, else all shared labels. Exact when they select no other pod.
 */
export function chooseSelector(pods: readonly Pod[], namespacePods: readonly Pod[]): { labels: ReadonlyMap<string, string>; exact: boolean; note?: string } {
  const common = new Map<string, string>();
  const [first, ...rest] = pods;
  if (first) {
    for (const [key, value] of first.labels) if (!isVolatileLabel(key) && rest.every((pod) => pod.labels.get(key) === value)) common.set(key, value);
  }
  const members = new Set(pods);
  const selectsOnly = (labels: ReadonlyMap<string, string>): Pod[] => namespacePods.filter((pod) => !members.has(pod) && [...labels].every(([key, value]) => pod.labels.get(key) === value));
  // The fewest preferred naming labels that select exactly the workload, in order of preference.
  const preferred = new Map<string, string>();
  for (const [key, value] of stableLabels(common)) {
    preferred.set(key, value);
    if (selectsOnly(preferred).length === 0) return { labels: sortLabels(preferred), exact: true };
  }
  const all = sortLabels(common);
  const extra = selectsOnly(all);
  if (extra.length === 0) return { labels: all, exact: true };
  const names = extra.map((pod) => pod.name).sort(compareText);
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
  const note = all.size === 0
    ? `the pods share no stable label, so this selects every pod in the namespace (also ${shown}); label the workload to narrow it`
    : `no stable label set selects only this workload: the selector also selects ${shown}; give the workload a label of its own`;
  return { labels: all, exact: false, note };
}

function sortLabels(labels: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...labels].sort(([a], [b]) => compareText(a, b)));
}

