export function tierOrder(a, b) {
    if (a.priority !== b.priority)
        return a.priority - b.priority;
    if (a.ref.name !== b.ref.name)
        return a.ref.name < b.ref.name ? -1 : 1;
    return a.ref.kind < b.ref.kind ? -1 : a.ref.kind > b.ref.kind ? 1 : 0;
}
//# sourceMappingURL=tier-order.js.map