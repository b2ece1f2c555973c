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
export function isVolatileLabel(key) {
    return VOLATILE.some((pattern) => pattern.test(key));
}
/** The preferred identifying labels present, or else every non-volatile label. */
export function stableLabels(labels) {
    const preferred = new Map();
    for (const key of PREFERRED) {
        const value = labels.get(key);
        if (value !== undefined)
            preferred.set(key, value);
    }
    if (preferred.size > 0)
        return preferred;
    return new Map([...labels].filter(([key]) => !isVolatileLabel(key)));
}
//# sourceMappingURL=stable-labels.js.map