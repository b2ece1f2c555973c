/** Cluster state as the policy engine needs it: what exists, its labels, addresses and ports. */
import type { IpAddress } from '../policy/address.js';
import type { NamedPort, Protocol } from '../policy/ports.js';
import type { Labels, Selector } from '../policy/selector.js';

export interface Namespace {
  readonly name: string;
  /** Always includes `kubernetes.io/metadata.name`, as the API server sets it. */
  readonly labels: Labels;
  /** Created because something referred to it, not declared in the input. */
  readonly implicit?: boolean;
}

export interface ContainerPort extends Partial<NamedPort> {
  readonly port: number;
  readonly protocol: Protocol;
}

export interface Owner {
  readonly kind: string;
  readonly name: string;
}

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly serviceAccount: string;
  /** Primary address; synthetic when the manifest has none (see `syntheticIp`). */
  readonly ip?: IpAddress;
  readonly ips: readonly IpAddress[];
  readonly syntheticIp?: boolean;
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  readonly containerPorts: readonly ContainerPort[];
  /** The workload this pod was expanded from, or its ownerReference. */
  readonly owner?: Owner;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort: number | string;
  readonly protocol: Protocol;
}

export interface Service {
  readonly namespace: string;
  readonly name: string;
  /** Absent for a Service without selector (manually managed endpoints). */
  readonly selector?: Labels;
  readonly ports: readonly ServicePort[];
  readonly clusterIPs: readonly IpAddress[];
  readonly labels: Labels;
}

export interface Node {
  readonly name: string;
  readonly labels: Labels;
  readonly addresses: readonly IpAddress[];
}

export interface ServiceAccount {
  readonly namespace: string;
  readonly name: string;
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface PodTemplate {
  readonly labels: Labels;
  readonly serviceAccount: string;
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  readonly containerPorts: readonly ContainerPort[];
}

export interface Workload {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly replicas: number;
  readonly selector: Selector;
  readonly template: PodTemplate;
  /** Node selector of the template, for DaemonSet placement. */
  readonly nodeSelector?: Labels;
}

/** An address outside the pods (from a conformance corpus or the command line). */
export interface External {
  readonly name: string;
  readonly ip?: IpAddress;
  /** The Cilium entity it belongs to: world, host, remote-node, kube-apiserver, ... */
  readonly entity: string;
}
