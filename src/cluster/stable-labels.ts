/**
 * Labels that name what a pod is rather than which instance it is: the ones a generated policy
 * should select on. Controller-generated labels (pod-template-hash, ...) change on every rollout.
 */
import type { Labels } from '../policy/selector.js';

const PREFERRED = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app', 'k8s-app', 'name', 'component', 'role', 'tier'];

const VOLATILE = [
  /^pod-template-hash$/,
  /^controller-revision-hash$/,
  /^pod-template-generation$/,
  /^statefulset\.kubernetes\.io\/pod-name$/,
  /^apps\.kubernetes\.io\/pod-index$/,
  /^job-name$/,
  /^controller-uid$/,
  /^batch\.kubernetes\.io\//,
  /^io\.cilium\./,
];

export function isVolatileLabel(key: string): boolean {
  return VOLATILE.some((pattern) => pattern.test(key));
}

/** The preferred identifying labels present, or else every non-volatile label. */
export function stableLabels(labels: Labels): Map<string, string> {
  const preferred = new Map<string, string>();
  for (const key of PREFERRED) {
    const value = labels.get(key);
    if (value !== undefined) preferred.set(key, value);
  }
  if (preferred.size > 0) return preferred;
  return new Map([...labels].filter(([key]) => !isVolatileLabel(key)));
}
