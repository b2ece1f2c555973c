import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Issue } from '../manifest/issue.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import type { EngineFactory } from '../policy/engine.js';
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { readSources } from '../scenario/files.js';
import { LINT_RULES } from './findings.js';
import { lintSources } from './lint.js';

const PAYMENTS = fileURLToPath(new URL('../../../examples/payments/', import.meta.url));

/** A small cluster that lints clean: a shop namespace with probed pods, and cluster DNS on a named target port. */
const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 192.168.0.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  nodeName: node-a
  containers:
    - name: coredns
      ports:
        - {name: dns, containerPort: 5353, protocol: UDP}
        - {name: dns-tcp, containerPort: 5353, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: dns}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: dns-tcp}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  nodeName: node-a
  containers:
    - name: api
      ports: [{name: http, containerPort: 8080}]
      readinessProbe:
        httpGet: {port: http, path: /healthz}
      livenessProbe:
        tcpSocket: {port: 8080}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-a
  containers:
    - name: web
      ports: [{name: http, containerPort: 80}]
`;

const DEFAULT_DENY_EGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
`;

function dnsAllow(ports: string, to = '[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]'): string {
  return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: ${to}
      ports: ${ports}
`;
}

function cnp(name: string, spec: string, namespace = 'shop'): string {
  return `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}`;
}

function ccnp(name: string, spec: string): string {
  return `
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: ${name}}
spec:
${spec}`;
}

function np(name: string, spec: string, namespace = 'shop'): string {
  return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}`;
}

function tier(name: string, spec: string): string {
  return `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ${name}}
spec:
${spec}`;
}

function lint(yaml: readonly string[], engine: EngineFactory = createCompiledEngine): Issue[] {
  const text = yaml.map((document) => document.trim()).join('\n---\n');
  const { scenario, findings } = lintSources([{ name: 'fixture.yaml', text }], { engine });
  const errors = scenario.issues.filter((issue) => issue.severity === 'error');
  assert.deepEqual(errors, [], 'fixtures must be valid manifests');
  return [...findings];
}

interface Expected {
  readonly code: string;
  readonly object?: string;
  readonly path?: string;
  readonly message?: RegExp;
}

interface Case {
  readonly name: string;
  readonly manifests: readonly string[];
  /** Exactly these findings (by code, and object/path/message when given); nothing else. */
  readonly expect: readonly Expected[];
  /** Without the base cluster (pods, DNS). */
  readonly bare?: boolean;
}

const CASES: readonly Case[] = [
  { name: 'the base cluster is clean', manifests: [], expect: [] },

  // ---- 1. probes ----
  {
    name: 'probes: default deny does not block the kubelet (host-allowed)',
    manifests: [np('default-deny', '  podSelector: {}\n  policyTypes: [Ingress]')],
    expect: [],
  },
  {
    name: 'probes: a Cilium deny rule on the host entity blocks both probes',
    manifests: [cnp('deny-host', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEntities: [host]')],
    expect: [
      { code: 'PODGATE_E_LINT_PROBE_BLOCKED', object: 'Pod shop/api', path: 'spec.containers[0].readinessProbe.httpGet.port', message: /readinessProbe of container api \(httpGet port "http"\).*TCP\/8080.*deny rule CiliumNetworkPolicy shop\/deny-host spec\.ingressDeny\[0\]/ },
      { code: 'PODGATE_E_LINT_PROBE_BLOCKED', object: 'Pod shop/api', path: 'spec.containers[0].livenessProbe.tcpSocket.port' },
      // Denying the host on every port also shadows nothing (no allow) but is not a tenant opening.
    ],
  },
  {
    name: 'probes: a clusterwide guardrail against the host blocks them, decided before the exemption',
    manifests: [ccnp('no-host', '  endpointSelector: {matchLabels: {app: api}}\n  enableDefaultDeny: {ingress: false}\n  ingressDeny:\n    - fromEntities: [host]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]')],
    expect: [
      { code: 'PODGATE_E_LINT_PROBE_BLOCKED', path: 'spec.containers[0].readinessProbe.httpGet.port', message: /cluster guardrail CiliumClusterwideNetworkPolicy no-host/ },
      { code: 'PODGATE_E_LINT_PROBE_BLOCKED', path: 'spec.containers[0].livenessProbe.tcpSocket.port' },
    ],
  },
  {
    name: 'probes: HTTP rules for the host that do not admit the probe path',
    manifests: [cnp('host-l7', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEntities: [host]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /ready}]}}]')],
    expect: [{ code: 'PODGATE_E_LINT_PROBE_BLOCKED', path: 'spec.containers[0].readinessProbe.httpGet.port', message: /HTTP rules .* refuse GET \/healthz/ }],
  },
  {
    name: 'probes: HTTP rules that admit the probe path',
    manifests: [cnp('host-l7', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEntities: [host]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /healthz}]}}]')],
    expect: [],
  },
  {
    name: 'probes: a workload template probe is checked on its pods',
    manifests: [
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          ports: [{name: metrics, containerPort: 9090}]
          startupProbe: {grpc: {port: 9090}}
`,
      cnp('deny-host', '  endpointSelector: {matchLabels: {app: worker}}\n  ingressDeny:\n    - fromEntities: [host]'),
    ],
    expect: [{ code: 'PODGATE_E_LINT_PROBE_BLOCKED', object: 'Deployment shop/worker', path: 'spec.template.spec.containers[0].startupProbe.grpc.port', message: /all 2 pods/ }],
  },
  {
    name: 'probes: pods without a node are probed from the local host, which default deny lets through',
    manifests: [
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          ports: [{name: metrics, containerPort: 9090}]
          readinessProbe: {httpGet: {port: metrics}}
`,
      np('default-deny', '  podSelector: {}\n  policyTypes: [Ingress]'),
    ],
    expect: [],
  },
  {
    name: 'probes: a named port the container does not declare',
    manifests: [
      `
apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: shop, labels: {app: broken}}
spec:
  containers:
    - name: main
      ports: [{name: http, containerPort: 8080}]
      livenessProbe: {httpGet: {port: htp}}
`,
    ],
    expect: [{ code: 'PODGATE_E_LINT_PROBE_PORT', object: 'Pod shop/broken', path: 'spec.containers[0].livenessProbe.httpGet.port' }],
  },

  // ---- 2. DNS ----
  {
    name: 'dns: default-deny egress without a DNS allow',
    manifests: [DEFAULT_DENY_EGRESS],
    expect: [{ code: 'PODGATE_E_LINT_DNS_BLOCKED', object: 'NetworkPolicy shop/default-deny-egress', message: /2 pods in namespace shop \(api, web\) cannot reach the cluster DNS \(kube-system\/kube-dns, UDP\/5353/ }],
  },
  {
    name: 'dns: UDP allowed, TCP not',
    manifests: [DEFAULT_DENY_EGRESS, dnsAllow('[{protocol: UDP, port: 5353}]')],
    expect: [{ code: 'PODGATE_W_LINT_DNS_TCP_BLOCKED', message: /TCP\/5353/ }],
  },
  {
    name: 'dns: allowed on the Service port 53 while the Service targets 5353',
    manifests: [DEFAULT_DENY_EGRESS, dnsAllow('[{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]')],
    expect: [{ code: 'PODGATE_E_LINT_DNS_BLOCKED' }],
  },
  {
    name: 'dns: allowed on the target ports, by name',
    manifests: [DEFAULT_DENY_EGRESS, dnsAllow('[{protocol: UDP, port: dns}, {protocol: TCP, port: dns-tcp}]')],
    expect: [],
  },
  {
    name: 'dns: the DNS pods refuse ingress from the namespace',
    manifests: [np('dns-ingress', '  podSelector: {matchLabels: {k8s-app: kube-dns}}\n  policyTypes: [Ingress]\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]', 'kube-system')],
    expect: [{ code: 'PODGATE_E_LINT_DNS_BLOCKED', message: /ingress of kube-system\/coredns is denied by default/ }],
  },

  // ---- 3. selectors that select nothing ----
  {
    name: 'selectors: subject and peers that select nothing',
    manifests: [
      np('typo', '  podSelector: {matchLabels: {app: apii}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: web}}}]'),
      np('peers', '  podSelector: {matchLabels: {app: api}}\n  ingress:\n    - from:\n        - namespaceSelector: {matchLabels: {team: nobody}}\n        - podSelector: {matchLabels: {app: ghost}}\n        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n          podSelector: {matchLabels: {app: ghost}}\n      ports: [{port: 8080}]'),
    ],
    expect: [
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', object: 'NetworkPolicy shop/typo', path: 'spec.podSelector' },
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', object: 'NetworkPolicy shop/peers', path: 'spec.ingress[0].from[0].namespaceSelector' },
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', object: 'NetworkPolicy shop/peers', path: 'spec.ingress[0].from[1].podSelector' },
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', object: 'NetworkPolicy shop/peers', path: 'spec.ingress[0].from[2].podSelector' },
    ],
  },
  {
    name: 'selectors: Cilium peers keep the policy namespace unless they name one',
    manifests: [
      cnp('peers', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints:\n        - matchLabels: {app: web}\n        - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, app: web}\n        - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}\n        - matchLabels: {reserved:host: ""}\n        - matchLabels: {k8s-app: kube-dns}\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]'),
    ],
    expect: [
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', path: 'spec.ingress[0].fromEndpoints[1]' },
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', path: 'spec.ingress[0].fromEndpoints[4]', message: /in namespace shop unless the selector names one/ },
    ],
  },
  {
    name: 'selectors: tier subjects and peers',
    manifests: [tier('ghosts', '  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: nowhere}}}\n  ingress:\n    - action: Deny\n      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: ghost}}}}]')],
    expect: [
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', path: 'spec.subject.namespaces' },
      { code: 'PODGATE_W_LINT_EMPTY_SELECTOR', path: 'spec.ingress[0].from[0].pods.podSelector' },
    ],
  },
  {
    name: 'selectors: not judged in a namespace whose pods were not passed in',
    manifests: [np('elsewhere', '  podSelector: {matchLabels: {app: billing}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: ledger}}}]', 'billing')],
    expect: [],
  },
  {
    name: 'selectors: not checked when the manifests hold no pods',
    bare: true,
    manifests: [np('typo', '  podSelector: {matchLabels: {app: apii}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: nobody}}}]')],
    expect: [],
  },

  // ---- 4. allows shadowed by a deny ----
  {
    name: 'shadowed: a Cilium allow that a deny in another policy always overrides',
    manifests: [
      cnp('allow-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]'),
      cnp('deny-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEndpoints: [{matchLabels: {app: web}}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_SHADOWED_ALLOW', object: 'CiliumNetworkPolicy shop/allow-web', path: 'spec.ingress[0]', message: /CiliumNetworkPolicy shop\/deny-web spec\.ingressDeny\[0\] denies everything it allows first/ }],
  },
  {
    name: 'shadowed: a deny on another port leaves the allow in effect',
    manifests: [
      cnp('allow-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]'),
      cnp('deny-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "9999", protocol: TCP}]}]'),
    ],
    expect: [],
  },
  {
    name: 'shadowed: an allow on every port is not shadowed by a deny on the declared ports',
    manifests: [
      cnp('allow-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]'),
      cnp('deny-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]'),
    ],
    expect: [],
  },
  {
    name: 'shadowed: a deny on one of two peers leaves the allow in effect',
    manifests: [
      cnp('allow-shop', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]'),
      cnp('deny-web', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEndpoints: [{matchLabels: {app: web}}]'),
    ],
    expect: [],
  },
  {
    name: 'shadowed: an Admin Accept after an Admin Deny of lower priority number',
    manifests: [
      tier('deny-shop', '  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n  ingress:\n    - action: Deny\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]'),
      tier('accept-web', '  tier: Admin\n  priority: 20\n  subject: {pods: {podSelector: {matchLabels: {app: api}}}}\n  ingress:\n    - action: Accept\n      from: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: web}}}}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_SHADOWED_ALLOW', object: 'ClusterNetworkPolicy accept-web', path: 'spec.ingress[0]', message: /ClusterNetworkPolicy deny-shop spec\.ingress\[0\]/ }],
  },

  // ---- 6. namespaced allows against a guardrail ----
  {
    name: 'guardrail: an egress allow to the metadata service',
    manifests: [
      ccnp('deny-metadata', '  endpointSelector: {}\n  enableDefaultDeny: {egress: false, ingress: false}\n  egressDeny:\n    - toCIDR: [169.254.169.254/32]'),
      np('metadata', '  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Egress]\n  egress:\n    - to: [{ipBlock: {cidr: 169.254.169.254/32}}]\n      ports: [{port: 80}]\n    - to: [{ipBlock: {cidr: 0.0.0.0/0}}]'),
      dnsAllow('[{protocol: UDP, port: dns}, {protocol: TCP, port: dns-tcp}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_GUARDRAIL', object: 'NetworkPolicy shop/metadata', path: 'spec.egress[0]', message: /guardrail CiliumClusterwideNetworkPolicy deny-metadata spec\.egressDeny\[0\]/ }],
  },
  {
    name: 'guardrail: an Admin Deny against a namespace',
    manifests: [
      tier('isolate-kube-system', '  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n  egress:\n    - action: Deny\n      to: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {app: internal}}}}]'),
      `
apiVersion: v1
kind: Pod
metadata: {name: internal, namespace: kube-system, labels: {app: internal}}
spec:
  containers: [{name: main, ports: [{containerPort: 443}]}]
`,
      np('to-internal', '  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {app: internal}}}]\n      ports: [{port: 443}]\n    - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n      ports: [{port: dns, protocol: UDP}, {port: dns-tcp, protocol: TCP}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_GUARDRAIL', object: 'NetworkPolicy shop/to-internal', path: 'spec.egress[0]', message: /ClusterNetworkPolicy isolate-kube-system spec\.egress\[0\]/ }],
  },

  // ---- 5. rules that open a tenant namespace to everything ----
  {
    name: 'open tenant: all namespaces, the cluster entity, the world on every port',
    manifests: [
      np('from-all', '  podSelector: {matchLabels: {app: api}}\n  ingress:\n    - from: [{namespaceSelector: {}}]\n      ports: [{port: 8080}]'),
      cnp('entities', '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n    - fromEntities: [cluster]\n      toPorts: [{ports: [{port: "80", protocol: TCP}]}]\n    - fromEntities: [world]'),
      np('allow-all', '  podSelector: {matchLabels: {app: web}}\n  ingress:\n    - {}'),
    ],
    expect: [
      { code: 'PODGATE_W_LINT_OPEN_TENANT', object: 'NetworkPolicy shop/from-all', path: 'spec.ingress[0].from[0].namespaceSelector', message: /opens namespace shop to every pod of every namespace on 8080\/TCP/ },
      { code: 'PODGATE_W_LINT_OPEN_TENANT', object: 'CiliumNetworkPolicy shop/entities', path: 'spec.ingress[0].fromEntities[0]' },
      { code: 'PODGATE_W_LINT_OPEN_TENANT', object: 'CiliumNetworkPolicy shop/entities', path: 'spec.ingress[1].fromEntities[0]', message: /the whole internet/ },
      { code: 'PODGATE_W_LINT_OPEN_TENANT', object: 'NetworkPolicy shop/allow-all', path: 'spec.ingress[0]', message: /every source \(inside the cluster or outside\) on every port/ },
    ],
  },
  {
    name: 'open tenant: narrowed peers, a public port, and system namespaces are fine',
    manifests: [
      np('monitoring', '  podSelector: {matchLabels: {app: api}}\n  ingress:\n    - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}]\n      ports: [{port: 8080}]'),
      cnp('public', '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n    - fromEntities: [world]\n      toPorts: [{ports: [{port: "80", protocol: TCP}]}]'),
      np('system', '  podSelector: {}\n  ingress:\n    - from: [{namespaceSelector: {}}]', 'kube-system'),
    ],
    expect: [],
  },

  // ---- L7 rules voided by a plain allow ----
  {
    name: 'l7: an HTTP rule alone is enforced',
    manifests: [cnp('l7', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET}]}}]')],
    expect: [],
  },
  {
    name: 'l7: a plain allow on the same peer and port voids it',
    manifests: [
      cnp('l7', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET}]}}]'),
      np('plain', '  podSelector: {matchLabels: {app: api}}\n  ingress:\n    - from: [{podSelector: {}}]\n      ports: [{port: 8080}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_L7_VOIDED', object: 'CiliumNetworkPolicy shop/l7', path: 'spec.ingress[0]', message: /voided|NetworkPolicy shop\/plain spec\.ingress\[0\] allows the same traffic/ }],
  },

  // ---- authentication ----
  {
    name: 'auth: disabled on one rule, required on another for the same traffic',
    manifests: [
      cnp('required', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      authentication: {mode: required}'),
      cnp('disabled', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      authentication: {mode: disabled}'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_AUTH_CONFLICT', object: 'CiliumNetworkPolicy shop/disabled', path: 'spec.ingress[0].authentication.mode', message: /CiliumNetworkPolicy shop\/required spec\.ingress\[0\] \(mode required\)/ }],
  },
  {
    name: 'auth: disabled alone is no conflict',
    manifests: [cnp('disabled', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web}}]\n      authentication: {mode: disabled}')],
    expect: [],
  },

  // ---- empty Cilium rules, priority ties ----
  {
    name: 'cilium: ingress: [{}]',
    manifests: [cnp('lockdown', '  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n    - {}')],
    expect: [{ code: 'PODGATE_W_LINT_EMPTY_CILIUM_RULE', path: 'spec.ingress[0]' }],
  },
  {
    name: 'priority: two Admin policies with the same priority over the same pods',
    manifests: [
      tier('a-first', '  tier: Admin\n  priority: 10\n  subject: {namespaces: {}}\n  ingress:\n    - action: Pass\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]'),
      tier('b-second', '  tier: Admin\n  priority: 10\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n  ingress:\n    - action: Pass\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]'),
      tier('c-other', '  tier: Admin\n  priority: 11\n  subject: {namespaces: {}}\n  ingress:\n    - action: Pass\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]'),
      tier('x-system', '  tier: Admin\n  priority: 30\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}\n  ingress:\n    - action: Pass\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]'),
      tier('y-shop', '  tier: Admin\n  priority: 30\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n  ingress:\n    - action: Pass\n      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]'),
    ],
    expect: [{ code: 'PODGATE_W_LINT_PRIORITY_TIE', object: 'ClusterNetworkPolicy b-second', path: 'spec.priority', message: /same Admin priority \(10\) as ClusterNetworkPolicy a-first/ }],
  },

  // ---- 7. deprecated and no-effect ----
  {
    name: 'deprecated: v1alpha1 AdminNetworkPolicy and fromRequires; rules policyTypes ignores',
    manifests: [
      `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: old}
spec:
  priority: 40
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}
  ingress:
    - action: Pass
      from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
`,
      cnp('requires', '  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n    - fromRequires: [{matchLabels: {env: prod}}]'),
      np('ignored', '  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: api}}}]\n  egress:\n    - to: [{podSelector: {matchLabels: {app: api}}}]'),
    ],
    expect: [
      { code: 'PODGATE_W_LINT_DEPRECATED', object: 'AdminNetworkPolicy old', path: 'apiVersion', message: /superseded by ClusterNetworkPolicy v1alpha2/ },
      { code: 'PODGATE_W_LINT_DEPRECATED', object: 'CiliumNetworkPolicy shop/requires', path: 'spec.ingress[0].fromRequires' },
      { code: 'PODGATE_W_LINT_NO_EFFECT', object: 'NetworkPolicy shop/ignored', path: 'spec.egress' },
    ],
  },
];

function matches(issue: Issue, expected: Expected): boolean {
  return (
    issue.code === expected.code &&
    (expected.object === undefined || issue.object === expected.object) &&
    (expected.path === undefined || issue.path === expected.path) &&
    (expected.message === undefined || expected.message.test(issue.message))
  );
}

const ENGINES: readonly EngineFactory[] = [createCompiledEngine, createReferenceEngine];
for (const engine of ENGINES) {
  for (const testCase of CASES) {
    test(`lint (${engine === createCompiledEngine ? 'compiled' : 'reference'}): ${testCase.name}`, () => {
      const findings = lint(testCase.bare ? testCase.manifests : [BASE, ...testCase.manifests], engine);
      const unmatched = [...findings];
      for (const expected of testCase.expect) {
        const index = unmatched.findIndex((issue) => matches(issue, expected));
        assert.ok(index >= 0, `expected ${JSON.stringify({ ...expected, message: expected.message?.source })}\nfound:\n${findings.map((issue) => `  ${issue.code} ${issue.object} ${issue.path}: ${issue.message}`).join('\n')}`);
        unmatched.splice(index, 1);
      }
      assert.deepEqual(
        unmatched.map((issue) => `${issue.code} ${issue.object} ${issue.path}: ${issue.message}`),
        [],
        'no other findings',
      );
    });
  }
}

test('every finding has a file position, a hint, and a code from the catalog with the right severity', () => {
  const codes = new Set(LINT_RULES.map((rule) => rule.code));
  const findings = CASES.flatMap((testCase) => lint(testCase.bare ? testCase.manifests : [BASE, ...testCase.manifests]));
  assert.ok(findings.length > 20);
  for (const issue of findings) {
    assert.ok(codes.has(issue.code), issue.code);
    assert.equal(issue.severity, issue.code.startsWith('PODGATE_E_') ? 'error' : 'warning');
    assert.equal(issue.file, 'fixture.yaml');
    assert.ok((issue.line ?? 0) > 0 && (issue.column ?? 0) > 0, `${issue.code} ${issue.path} has a position`);
    assert.ok(issue.hint && issue.hint.length > 0, `${issue.code} has a hint`);
  }
  // Every check of the catalog is exercised by some case.
  assert.deepEqual([...new Set(findings.map((issue) => issue.code))].sort(), [...codes].sort());
});

test('findings point at the line of the offending field', () => {
  const text = [BASE, cnp('deny-host', '  endpointSelector: {matchLabels: {app: api}}\n  ingressDeny:\n    - fromEntities: [host]')].map((document) => document.trim()).join('\n---\n');
  const { findings } = lintSources([{ name: 'fixture.yaml', text }]);
  const readiness = findings.find((issue) => issue.path.endsWith('readinessProbe.httpGet.port'));
  const lines = text.split('\n');
  assert.ok(readiness?.line !== undefined);
  assert.match(lines[readiness.line - 1] ?? '', /httpGet: \{port: http/);
});

test('examples/payments: exactly the voided L7 rule, with both engines', () => {
  const { sources, issues } = readSources([PAYMENTS]);
  assert.deepEqual(issues, []);
  for (const engine of ENGINES) {
    const { findings } = lintSources(sources, { engine });
    assert.equal(findings.length, 1, findings.map((issue) => issue.message).join('\n'));
    const [voided] = findings;
    assert.equal(voided?.code, 'PODGATE_W_LINT_L7_VOIDED');
    assert.equal(voided.object, 'CiliumNetworkPolicy payments/l7-payments-api');
    assert.equal(voided.path, 'spec.ingress[0]');
    assert.match(voided.file ?? '', /payments-cilium\.yaml$/);
    assert.match(voided.message, /CiliumNetworkPolicy payments\/mtls-payments-api spec\.ingress\[0\]/);
    assert.match(voided.message, /NetworkPolicy payments\/allow-frontend-to-api spec\.ingress\[0\]/);
    assert.match(voided.message, /frontend\/web-gateway → payments\/payments-api TCP\/8080/);
  }
});

test('lint is deterministic: the same input gives the same findings in the same order', () => {
  const manifests = CASES.flatMap((testCase) => (testCase.bare ? [] : testCase.manifests)).slice(0, 12);
  const first = lint([BASE, ...manifests]);
  const second = lint([BASE, ...manifests]);
  assert.deepEqual(second, first);
});
