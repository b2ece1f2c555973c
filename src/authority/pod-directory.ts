/**
 * Where the authority learns which node a pod runs on and under which service account. In a
 * cluster this is the Kubernetes API (a later issue); in the lab and in tests a static map.
 */

export interface PodPlacement {
  readonly serviceAccount: string;
  /** Absent while the pod is not scheduled; such a pod gets no SVID. */
  readonly nodeName?: string;
}

export interface PodDirectory {
  lookup(namespace: string, pod: string): PodPlacement | undefined;
}

/** An in-memory directory: `set` and `delete` as pods come and go. */
export class StaticPodDirectory implements PodDirectory {
  private readonly pods = new Map<string, PodPlacement>();

  constructor(pods: Iterable<{ namespace: string; pod: string } & PodPlacement> = []) {
    for (const p of pods) this.set(p.namespace, p.pod, p);
  }

  set(namespace: string, pod: string, placement: PodPlacement): void {
    this.pods.set(`${namespace}/${pod}`, placement);
  }

  delete(namespace: string, pod: string): boolean {
    return this.pods.delete(`${namespace}/${pod}`);
  }

  lookup(namespace: string, pod: string): PodPlacement | undefined {
    return this.pods.get(`${namespace}/${pod}`);
  }
}
