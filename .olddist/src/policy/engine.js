/** Applies a change to a ClusterState (both engines keep their state this way). */
export function applyToCluster(cluster, change) {
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
//# sourceMappingURL=engine.js.map