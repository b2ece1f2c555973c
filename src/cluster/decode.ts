/** Decoders for cluster-state objects: Namespace, Pod, Service, Node, ServiceAccount and workloads. */
import type { Field } from '../manifest/reader.js';
import { dnsLabelProblem, dnsSubdomainProblem, labelKeyProblem, labelValueProblem, portNameProblem } from '../manifest/syntax.js';
import { parseIp, type IpAddress } from '../policy/address.js';
import type { Protocol } from '../policy/ports.js';
import { readSelector, type Selector } from '../policy/selector.js';
import type { ContainerPort, Namespace, Node, Owner, Pod, PodTemplate, Service, ServiceAccount, ServicePort, Workload, WorkloadKind } from './model.js';

const OBJECT_KEYS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const METADATA_KEYS = [
  'name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp',
  'deletionGracePeriodSeconds', 'ownerReferences', 'finalizers', 'managedFields', 'generateName', 'selfLink',
];

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: Map<string, string>;
  readonly owner?: Owner;
}

/** Reads metadata; `namespaced` decides whether a missing namespace means `default`. */
export function readMetadata(root: Field, options: { namespaced: boolean }): ObjectMeta | undefined {
  const metadata = root.child('metadata');
  if (!metadata.present) {
    metadata.error('PODGATE_E_REQUIRED', 'metadata is required', 'add metadata: {name: ...}');
    return undefined;
  }
  const object = metadata.object(METADATA_KEYS);
  if (!object) return undefined;
  const nameField = object.child('name');
  const name = nameField.string();
  if (name === undefined) {
    if (!nameField.present) nameField.error('PODGATE_E_REQUIRED', 'metadata.name is required');
    return undefined;
  }
  const nameProblem = dnsSubdomainProblem(name);
  if (nameProblem) nameField.error('PODGATE_E_NAME', `invalid name "${name}": ${nameProblem}`);
  let namespace: string | undefined;
  if (options.namespaced) {
    const namespaceField = object.child('namespace');
    namespace = namespaceField.string() ?? 'default';
    const problem = dnsLabelProblem(namespace);
    if (problem) namespaceField.error('PODGATE_E_NAME', `invalid namespace "${namespace}": ${problem}`);
  } else if (object.has('namespace')) {
    object.child('namespace').error('PODGATE_W_IGNORED', 'this kind is cluster-scoped; metadata.namespace is ignored');
  }
  const labels = readLabels(object.child('labels'));
  const owner = readOwner(object.child('ownerReferences'));
  return { name, labels, ...(namespace === undefined ? {} : { namespace }), ...(owner ? { owner } : {}) };
}

export function readLabels(field: Field): Map<string, string> {
  const labels = field.stringMap() ?? new Map<string, string>();
  for (const [key, value] of labels) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) field.child(key).error('PODGATE_E_LABEL', `invalid label key "${key}": ${keyProblem}`);
    const valueProblem = labelValueProblem(value);
    if (valueProblem) field.child(key).error('PODGATE_E_LABEL', `invalid value "${value}" for label "${key}": ${valueProblem}`);
  }
  return labels;
}

/** The controlling owner (or the only owner) from ownerReferences. */
function readOwner(field: Field): Owner | undefined {
  const references = field.array() ?? [];
  for (const reference of references) {
    const object = reference.object();
    if (!object) continue;
    const kind = object.child('kind').string();
    const name = object.child('name').string();
    if (kind !== undefined && name !== undefined && (object.child('controller').value === true || references.length === 1)) return { kind, name };
  }
  return undefined;
}

export function readProtocol(field: Field, allowed: readonly Protocol[] = ['TCP', 'UDP', 'SCTP']): Protocol | undefined {
  const text = field.string();
  if (text === undefined) return undefined;
  if (!allowed.includes(text as Protocol)) {
    const upper = text.toUpperCase();
    field.error(
      'PODGATE_E_PROTOCOL',
      `unknown protocol "${text}"`,
      allowed.includes(upper as Protocol) ? `protocols are upper case: write ${upper}` : `use one of ${allowed.join(', ')}`,
    );
    return undefined;
  }
  return text as Protocol;
}

export function checkKind(root: Field): void {
  root.object(OBJECT_KEYS);
}

export function readNamespace(root: Field): Namespace | undefined {
  checkKind(root);
  const meta = readMetadata(root, { namespaced: false });
  if (!meta) return undefined;
  const problem = dnsLabelProblem(meta.name);
  if (problem) root.child('metadata').child('name').error('PODGATE_E_NAME', `invalid namespace name "${meta.name}": ${problem}`);
  const labels = new Map(meta.labels);
  labels.set('kubernetes.io/metadata.name', meta.name);
  return { name: meta.name, labels };
}

export function readServiceAccount(root: Field): ServiceAccount | undefined {
  root.object([...OBJECT_KEYS, 'secrets', 'imagePullSecrets', 'automountServiceAccountToken']);
  const meta = readMetadata(root, { namespaced: true });
  return meta ? { namespace: meta.namespace ?? 'default', name: meta.name } : undefined;
}

export function readNode(root: Field): Node | undefined {
  checkKind(root);
  const meta = readMetadata(root, { namespaced: false });
  if (!meta) return undefined;
  const addresses: IpAddress[] = [];
  for (const address of root.child('status').child('addresses').array() ?? []) {
    const type = address.child('type').string();
    const text = address.child('address').string();
    if (text === undefined || (type !== 'InternalIP' && type !== 'ExternalIP')) continue;
    const ip = parseIp(text);
    if (ip) addresses.push(ip);
    else address.child('address').error('PODGATE_E_IP', `"${text}" is not an IP address`);
  }
  const labels = new Map(meta.labels);
  if (!labels.has('kubernetes.io/hostname')) labels.set('kubernetes.io/hostname', meta.name);
  return { name: meta.name, labels, addresses };
}

export function readPod(root: Field): Pod | undefined {
  checkKind(root);
  const meta = readMetadata(root, { namespaced: true });
  if (!meta) return undefined;
  const template = readPodSpec(root.child('spec'), meta.labels);
  const ips: IpAddress[] = [];
  const status = root.child('status');
  const seen = new Set<string>();
  const addIp = (field: Field): void => {
    const text = field.string();
    if (text === undefined || seen.has(text)) return;
    seen.add(text);
    const ip = parseIp(text);
    if (ip) ips.push(ip);
    else field.error('PODGATE_E_IP', `"${text}" is not an IP address`);
  };
  addIp(status.child('podIP'));
  for (const entry of status.child('podIPs').array() ?? []) addIp(entry.child('ip'));
  const [ip] = ips;
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: template.labels,
    serviceAccount: template.serviceAccount,
    ips,
    ...(ip ? { ip } : {}),
    hostNetwork: template.hostNetwork,
    containerPorts: template.containerPorts,
    ...(template.nodeName === undefined ? {} : { nodeName: template.nodeName }),
    ...(meta.owner ? { owner: meta.owner } : {}),
  };
}

/** The parts of a PodSpec that matter for policy. */
export function readPodSpec(spec: Field, labels: Map<string, string>): PodTemplate {
  const serviceAccount = spec.child('serviceAccountName').string() ?? spec.child('serviceAccount').string() ?? 'default';
  const nodeName = spec.child('nodeName').string();
  const hostNetwork = spec.child('hostNetwork').boolean() ?? false;
  const containerPorts: ContainerPort[] = [];
  const names = new Set<string>();
  const readContainers = (field: Field, sidecarsOnly: boolean): void => {
    for (const container of field.array() ?? []) {
      if (sidecarsOnly && container.child('restartPolicy').value !== 'Always') continue;
      for (const portField of container.child('ports').array() ?? []) {
        const port = readContainerPort(portField);
        if (!port) continue;
        if (port.name !== undefined) {
          if (names.has(port.name)) portField.child('name').error('PODGATE_E_DUPLICATE', `port name "${port.name}" is used twice in this pod`);
          names.add(port.name);
        }
        containerPorts.push(port);
      }
    }
  };
  readContainers(spec.child('containers'), false);
  // Native sidecars (init containers that keep running) serve ports too.
  readContainers(spec.child('initContainers'), true);
  return { labels, serviceAccount, hostNetwork, containerPorts, ...(nodeName === undefined ? {} : { nodeName }) };
}

function readContainerPort(field: Field): ContainerPort | undefined {
  const object = field.object();
  if (!object) return undefined;
  const port = object.child('containerPort').integer({ min: 1, max: 65535 });
  if (port === undefined) {
    if (!object.child('containerPort').present) object.child('containerPort').error('PODGATE_E_REQUIRED', 'containerPort is required');
    return undefined;
  }
  const protocol = object.has('protocol') ? readProtocol(object.child('protocol')) : 'TCP';
  if (protocol === undefined) return undefined;
  const nameField = object.child('name');
  const name = nameField.string();
  if (name !== undefined) {
    const problem = portNameProblem(name);
    if (problem) {
      nameField.error('PODGATE_E_PORT_NAME', `invalid port name "${name}": ${problem}`);
      return { port, protocol };
    }
    return { name, port, protocol };
  }
  return { port, protocol };
}

export function readService(root: Field): Service | undefined {
  checkKind(root);
  const meta = readMetadata(root, { namespaced: true });
  if (!meta) return undefined;
  const spec = root.child('spec');
  const selectorField = spec.child('selector');
  const selector = selectorField.present ? readLabels(selectorField) : undefined;
  const ports: ServicePort[] = [];
  for (const portField of spec.child('ports').array() ?? []) {
    const object = portField.object();
    if (!object) continue;
    const port = object.child('port').integer({ min: 1, max: 65535 });
    if (port === undefined) {
      if (!object.child('port').present) object.child('port').error('PODGATE_E_REQUIRED', 'port is required');
      continue;
    }
    const protocol = object.has('protocol') ? readProtocol(object.child('protocol')) : 'TCP';
    if (protocol === undefined) continue;
    const targetField = object.child('targetPort');
    let targetPort: number | string = targetField.intOrString() ?? port;
    if (typeof targetPort === 'string' && /^\d+$/.test(targetPort)) targetPort = Number(targetPort);
    const name = object.child('name').string();
    ports.push({ port, protocol, targetPort, ...(name === undefined ? {} : { name }) });
  }
  const clusterIPs: IpAddress[] = [];
  for (const text of [spec.child('clusterIP').string(), ...(spec.child('clusterIPs').array() ?? []).map((entry) => entry.string())]) {
    if (text === undefined || text === 'None' || text === '') continue;
    const ip = parseIp(text);
    if (ip && !clusterIPs.some((known) => known.text === ip.text)) clusterIPs.push(ip);
  }
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    labels: meta.labels,
    ports,
    clusterIPs,
    ...(selector && selector.size > 0 ? { selector } : {}),
  };
}

/** Reads a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob as a pod template. */
export function readWorkload(root: Field, kind: WorkloadKind): Workload | undefined {
  checkKind(root);
  const meta = readMetadata(root, { namespaced: true });
  if (!meta) return undefined;
  let spec = root.child('spec');
  if (kind === 'CronJob') spec = spec.child('jobTemplate').child('spec');
  const templateField = spec.child('template');
  if (!templateField.present) {
    templateField.error('PODGATE_E_REQUIRED', `${kind} needs spec${kind === 'CronJob' ? '.jobTemplate.spec' : ''}.template`);
    return undefined;
  }
  const templateLabels = readLabels(templateField.child('metadata').child('labels'));
  const template = readPodSpec(templateField.child('spec'), templateLabels);
  const selectorField = spec.child('selector');
  let selector: Selector | undefined = selectorField.present ? readSelector(selectorField, 'kubernetes') : undefined;
  if (!selector) selector = { requirements: [...templateLabels].map(([key, value]) => ({ key, operator: 'In' as const, values: [value] })) };
  let replicas = 1;
  if (kind === 'Job' || kind === 'CronJob') replicas = spec.child('parallelism').integer({ min: 0 }) ?? 1;
  else if (kind !== 'DaemonSet') replicas = spec.child('replicas').integer({ min: 0 }) ?? 1;
  const nodeSelectorField = templateField.child('spec').child('nodeSelector');
  const nodeSelector = nodeSelectorField.present ? readLabels(nodeSelectorField) : undefined;
  return {
    kind,
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    replicas,
    selector,
    template,
    ...(nodeSelector ? { nodeSelector } : {}),
  };
}
