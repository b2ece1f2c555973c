export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
export const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
export const CLUSTER_NAME = 'default';
export function podIdentityLabels(options) {
    const labels = new Map(options.podLabels);
    for (const [key, value] of options.namespaceLabels)
        labels.set(NAMESPACE_LABELS_PREFIX + key, value);
    labels.set(NAMESPACE_LABEL, options.namespace);
    labels.set(SERVICE_ACCOUNT_LABEL, options.serviceAccount);
    labels.set(CLUSTER_LABEL, CLUSTER_NAME);
    return labels;
}
/** A stable string for a label set: pods with equal keys share one identity. */
export function labelsKey(labels) {
    return [...labels]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, value]) => `${key}=${value}`)
        .join('\u0000');
}
//# sourceMappingURL=identity-labels.js.map