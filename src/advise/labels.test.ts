import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../cluster/model.js';
import { workloadOf } from '../cluster/workloads.js';
import { chooseSelector } from './labels.js';

function pod(name: string, labels: Record<string, string>, owner?: { kind: string; name: string }): Pod {
  return { namespace: 'ns', name, labels: new Map(Object.entries(labels)), serviceAccount: 'default', ips: [], hostNetwork: false, containerPorts: [], ...(owner ? { owner } : {}) };
}

const web1 = pod('web-7d9f5-a', { app: 'web', tier: 'front', 'pod-template-hash': '7d9f5' });
const web2 = pod('web-7d9f5-b', { app: 'web', tier: 'front', 'pod-template-hash': '7d9f5' });
const webCanary = pod('web-canary-x', { app: 'web', tier: 'front', track: 'canary', 'pod-template-hash': '11aa' });
const db0 = pod('db-0', { 'app.kubernetes.io/name': 'db', 'statefulset.kubernetes.io/pod-name': 'db-0', 'controller-revision-hash': 'db-1' });
const db1 = pod('db-1', { 'app.kubernetes.io/name': 'db', 'statefulset.kubernetes.io/pod-name': 'db-1', 'controller-revision-hash': 'db-1' });
const twinA = pod('twin-a', { role: 'worker', 'pod-template-hash': 'aaaa' });
const twinB = pod('twin-b', { role: 'worker', 'pod-template-hash': 'bbbb' });
const job = pod('report-28391-xk2', { 'job-name': 'report-28391', 'controller-uid': 'u1', 'batch.kubernetes.io/job-name': 'report-28391', team: 'finance' });

test('chooseSelector: fewest stable labels that select exactly the workload', () => {
  const cases: { name: string; pods: Pod[]; namespace: Pod[]; labels: Record<string, string>; exact: boolean }[] = [
    { name: 'one preferred label suffices', pods: [web1, web2], namespace: [web1, web2, db0, db1], labels: { app: 'web' }, exact: true },
    { name: 'StatefulSet: per-pod labels dropped', pods: [db0, db1], namespace: [web1, db0, db1], labels: { 'app.kubernetes.io/name': 'db' }, exact: true },
    { name: 'a second workload shares app: more labels', pods: [webCanary], namespace: [web1, web2, webCanary], labels: { app: 'web', tier: 'front', track: 'canary' }, exact: true },
    { name: 'no label set separates them: not exact, no volatile label', pods: [twinA], namespace: [twinA, twinB], labels: { role: 'worker' }, exact: false },
    { name: 'job labels never used', pods: [job], namespace: [job, web1], labels: { team: 'finance' }, exact: true },
    { name: 'a Deployment whose replicas share the hash still avoids it', pods: [web1, web2], namespace: [web1, web2, webCanary], labels: { app: 'web', tier: 'front' }, exact: false },
  ];
  for (const entry of cases) {
    const chosen = chooseSelector(entry.pods, entry.namespace);
    assert.deepEqual(Object.fromEntries(chosen.labels), entry.labels, entry.name);
    assert.equal(chosen.exact, entry.exact, entry.name);
    if (!entry.exact) assert.match(chosen.note ?? '', /also selects/, entry.name);
  }
});

test('workloadOf: a ReplicaSet with the pod-template-hash suffix is its Deployment', () => {
  assert.deepEqual(workloadOf(pod('web-7d9f5-a', { 'pod-template-hash': '7d9f5' }, { kind: 'ReplicaSet', name: 'web-7d9f5' })), { kind: 'Deployment', name: 'web' });
  assert.deepEqual(workloadOf(pod('x', {}, { kind: 'ReplicaSet', name: 'standalone' })), { kind: 'ReplicaSet', name: 'standalone' });
  assert.deepEqual(workloadOf(pod('solo', {})), { kind: 'Pod', name: 'solo' });
});
