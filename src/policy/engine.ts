/** The interface every policy engine implements, and the changes it accepts. */
import type { Namespace, Node, Pod, Service } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import type { Direction, Policy, PolicyRef } from './model.js';
import type { Connection, DirectionVerdict, Verdict } from './verdict.js';

export type Change =
  | { readonly type: 'upsert-pod'; readonly pod: Pod }
  | { readonly type: 'delete-pod'; readonly namespace: string; readonly name: string }
  | { readonly type: 'upsert-namespace'; readonly namespace: Namespace }
  | { readonly type: 'delete-namespace'; readonly name: string }
  | { readonly type: 'upsert-node'; readonly node: Node }
  | { readonly type: 'delete-node'; readonly name: string }
  | { readonly type: 'upsert-service'; readonly service: Service }
  | { readonly type: 'delete-service'; readonly namespace: string; readonly name: string }
  | { readonly type: 'upsert-policy'; readonly policy: Policy }
  | { readonly type: 'delete-policy'; readonly ref: PolicyRef };

export interface PolicyEngine {
  readonly name: string;
  /** Bumps on every applied change; verdicts carry the revision they were computed at. */
  readonly revision: number;
  /** The engine's own view of the cluster; resolve endpoints against it. */
  readonly cluster: ClusterState;
  readonly policies: readonly Policy[];
  /** Never throws: an internal failure is a denial with reason `error` (fail closed). */
  evaluate(connection: Connection): Verdict;
  /**
   * One side only: egress of the source or ingress of the destination, as the node agent on that
   * side needs it (the source's agent checks egress, the destination's agent ingress).
   */
  evaluateDirection(connection: Connection, direction: Direction): DirectionVerdict;
  apply(change: Change): void;
}

export interface EngineInput {
  readonly cluster: ClusterState;
  readonly policies: readonly Policy[];
}

export type EngineFactory = (input: EngineInput) => PolicyEngine;

/** Applies a change to a ClusterState (both engines keep their state this way). */
export function applyToCluster(cluster: ClusterState, change: Change): void {
  switch (change.type) {
    case 'upsert-pod':
      cluster.upsertPod(change.pod);
      break;
    case 'delete-pod':
      cluster.deletePod(change.namespace, change.name);
      break;
    case 'upsert-namespace':
      cluster.upsertNamespace(change.namespace);
      break;
    case 'delete-namespace':
      cluster.deleteNamespace(change.name);
      break;
    case 'upsert-node':
      cluster.upsertNode(change.node);
      break;
    case 'delete-node':
      cluster.deleteNode(change.name);
      break;
    case 'upsert-service':
      cluster.upsertService(change.service);
      break;
    case 'delete-service':
      cluster.deleteService(change.namespace, change.name);
      break;
    case 'upsert-policy':
    case 'delete-policy':
      break;
  }
}
