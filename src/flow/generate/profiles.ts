/**
 * Traffic profiles: who talks to whom, how often, and what else happens in the cluster (probes,
 * batch jobs, mistakes the policies catch). A profile only chooses the attempts; every verdict
 * comes from the policy engine.
 */
import type { Workload } from '../../cluster/model.js';
import { ClusterState } from '../../cluster/state.js';
import type { Selector } from '../../policy/selector.js';
import { DAY, HANDSHAKE_NS, HOUR, MS, SECOND, type HttpCall, type RecordClass, type Simulation } from './simulation.js';
import { stableHash } from '../../manifest/syntax.js';
import type { PodInfo, ServiceInfo, Topology } from './topology.js';

/** A generation problem with a stable code and what to do about it. */
export class GenerateError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export interface ProfileSetup {
  readonly sim: Simulation;
  readonly topology: Topology;
  /** Epoch milliseconds of offset 0 (for the calendar: nightly and monthly jobs). */
  readonly startMs: number;
  readonly durationNs: number;
  /** Multiplies every traffic rate (probes and jobs keep their schedules). */
  readonly intensity: number;
  /** Probes run every 10 s; one in this many is written. */
  readonly probeEvery: number;
}

export interface Activity {
  readonly kind: RecordClass;
  /** Runs at `at` and returns when it runs next (undefined: never again). */
  readonly run: (at: number) => number | undefined;
  readonly first: number;
}

export interface Profile {
  readonly name: string;
  readonly summary: string;
  readonly defaultProbeEvery: number;
  readonly externalNames: ReadonlyMap<string, readonly string[]>;
  readonly upstreamResolver: string;
  /** Adds what the profile brings to the cluster (its batch jobs); throws GenerateError when the manifests do not fit. */
  extend(cluster: ClusterState): ClusterState;
  activities(setup: ProfileSetup): Activity[];
}

// ---- shared pieces ----

const PROBE_PERIOD = 10 * SECOND;

/** Traffic follows the day: quietest around 03:00 UTC, busiest around 15:00. */
function dayFactor(startMs: number, t: number): number {
  const hours = ((startMs + t / 1e6) / 3_600_000) % 24;
  return 0.3 + 0.7 * (1 - Math.cos((2 * Math.PI * (hours - 3)) / 24)) / 2;
}

/**
 * The next arrival of a Poisson process whose rate follows the day (thinning: draw at the peak rate,
 * keep a draw with the day's share), so the count over a day is proportional to the rate.
 */
function nextArrival(sim: Simulation, startMs: number, at: number, peakPerSecond: number): number {
  let t = at;
  for (;;) {
    t += sim.exponential(SECOND / peakPerSecond);
    if (sim.prng.next() < dayFactor(startMs, t)) return t;
  }
}

/** The next offset (≥ from) at which the UTC clock shows the given time on a matching day. */
function nextCalendar(startMs: number, from: number, options: { hour: number; minute: number; dayOfMonth?: number }): number {
  const fromMs = startMs + Math.ceil(from / 1e6);
  const date = new Date(fromMs);
  for (let step = 0; step < 400; step++) {
    const candidate = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + step, options.hour, options.minute);
    if (candidate < fromMs) continue;
    if (options.dayOfMonth !== undefined && new Date(candidate).getUTCDate() !== options.dayOfMonth) continue;
    return (candidate - startMs) * 1e6;
  }
  return Number.POSITIVE_INFINITY;
}

/** Kubelet probes from the host stack of the pod's node, every 10 s (one in `probeEvery` written). */
function probeActivities(setup: ProfileSetup, portOf: (pod: PodInfo) => number | undefined): Activity[] {
  const { sim, topology } = setup;
  const period = PROBE_PERIOD * setup.probeEvery;
  const out: Activity[] = [];
  for (const info of topology.pods) {
    if (info.batch) continue;
    const port = portOf(info);
    if (port === undefined) continue;
    const host = topology.hostPeer(info.node);
    const peer = topology.podPeer(info);
    const phase = (stableHash(info.key, 21) % 10_000) * (PROBE_PERIOD / 10_000);
    out.push({
      kind: 'probe',
      first: phase,
      run: (at) => {
        sim.tcpSession({ t: at, client: host, server: peer, port, exchanges: 1, serviceNs: sim.between(300_000, 3 * MS), retries: 0 });
        return at + period;
      },
    });
  }
  return out;
}

function firstTcpPort(info: PodInfo): number | undefined {
  return info.pod.containerPorts.find((port) => port.protocol === 'TCP')?.port;
}

function matchLabels(labels: Record<string, string>): Selector {
  return { requirements: Object.entries(labels).map(([key, value]) => ({ key, operator: 'In' as const, values: [value] })) };
}

/** A copy of the cluster with these workloads added (and expanded into pods). */
function withWorkloads(cluster: ClusterState, workloads: readonly Workload[]): ClusterState {
  if (workloads.length === 0) return cluster;
  const state = ClusterState.build({
    namespaces: cluster.namespaces.filter((namespace) => !namespace.implicit),
    pods: cluster.pods,
    nodes: cluster.nodes,
    services: cluster.services,
    serviceAccounts: cluster.serviceAccounts,
    externals: cluster.externals,
    workloads,
  });
  state.workloads.unshift(...cluster.workloads);
  return state;
}

function cronJob(options: { namespace: string; name: string; labels: Record<string, string>; serviceAccount: string }): Workload {
  return {
    kind: 'CronJob',
    namespace: options.namespace,
    name: options.name,
    replicas: 1,
    selector: matchLabels(options.labels),
    template: { labels: new Map(Object.entries(options.labels)), serviceAccount: options.serviceAccount, hostNetwork: false, containerPorts: [] },
  };
}

function batchPodOf(topology: Topology, namespace: string, owner: string): PodInfo | undefined {
  return topology.pods.find((info) => info.batch && info.pod.namespace === namespace && info.pod.owner?.name === owner);
}

/** Picks a backend of a Service and the container port a Service port lands on. */
function backendFor(sim: Simulation, service: ServiceInfo, servicePort: number): { pod: PodInfo; port: number } | undefined {
  if (service.backends.length === 0) return undefined;
  const port = service.service.ports.find((candidate) => candidate.port === servicePort) ?? service.service.ports[0];
  if (!port) return undefined;
  const pod = sim.prng.pick(service.backends);
  const target = sim.topology.targetPort(port, pod);
  return target === undefined ? undefined : { pod, port: target };
}

// ---- payments ----

const PAYMENTS_EXTERNAL = new Map<string, readonly string[]>([
  ['api.stripe.com', ['203.0.113.41', '203.0.113.42']],
  ['hooks.slack.com', ['203.0.113.77']],
]);

const USER_ADDRESSES = Array.from({ length: 40 }, (_, index) => `198.51.100.${10 + index * 6}`);

const PAYMENTS_PROBE_PORTS: Readonly<Record<string, number>> = {
  'frontend/web-gateway': 8443,
  'payments/payments-api': 8080,
  'payments/postgres': 5432,
  'kube-system/coredns': 8181,
};

function paymentsCall(sim: Simulation): HttpCall {
  const roll = sim.prng.next();
  const account = `acc-${sim.prng.int(10_000, 99_999)}`;
  const failure = sim.prng.chance(0.01) ? sim.prng.pick([500, 503, 404]) : undefined;
  const serviceNs = sim.between(2 * MS, 25 * MS);
  if (roll < 0.55) return { method: 'GET', path: `/api/v1/balance/${account}`, code: failure ?? 200, serviceNs };
  if (roll < 0.8) return { method: 'GET', path: `/api/v1/transactions?account=${account}&limit=20`, code: failure ?? 200, serviceNs };
  if (roll < 0.97) return { method: 'POST', path: '/api/v1/transfer', code: failure ?? 201, serviceNs: serviceNs + 15 * MS };
  // A few requests the API's HTTP rules do not list: whether they pass is the policies' call.
  return sim.prng.chance(0.5) ? { method: 'DELETE', path: `/api/v1/accounts/${account}`, code: 204, serviceNs } : { method: 'GET', path: '/api/v1/admin/export', code: 200, serviceNs };
}

export const PAYMENTS_PROFILE: Profile = {
  name: 'payments',
  summary: 'examples/payments: users → web-gateway → payments-api (HTTP) → postgres, cluster DNS, probes, a nightly reconciliation CronJob, a month-end job, and traffic the policies drop',
  defaultProbeEvery: 6,
  externalNames: PAYMENTS_EXTERNAL,
  upstreamResolver: '1.1.1.1',

  extend(cluster) {
    const missing = ['frontend/web-gateway', 'payments/payments-api', 'payments/postgres'].filter((key) => {
      const [namespace, name] = key.split('/') as [string, string];
      return cluster.pod(namespace, name) === undefined;
    });
    if (missing.length > 0) {
      throw new GenerateError('PODGATE_E_PROFILE', `the payments profile needs the pods of examples/payments; missing: ${missing.join(', ')}`, 'generate with -f examples/payments/, or use --profile mesh for other manifests');
    }
    const has = (name: string): boolean => cluster.workloads.some((workload) => workload.namespace === 'payments' && workload.name === name);
    const jobs: Workload[] = [];
    // The nightly job runs the API's code with the API's labels plus its role, so the API's policies cover it.
    if (!has('payments-reconcile')) jobs.push(cronJob({ namespace: 'payments', name: 'payments-reconcile', labels: { app: 'payments-api', component: 'reconcile' }, serviceAccount: 'payments-api' }));
    // The month-end job was added later with labels of its own: no policy mentions it.
    if (!has('payments-month-end')) jobs.push(cronJob({ namespace: 'payments', name: 'payments-month-end', labels: { app: 'payments-month-end' }, serviceAccount: 'payments-month-end' }));
    return withWorkloads(cluster, jobs);
  },

  activities(setup) {
    const { sim, topology, startMs } = setup;
    const gateway = topology.pod('frontend', 'web-gateway')!;
    const api = topology.pod('payments', 'payments-api')!;
    const apiService = topology.service('payments', 'payments-api');
    const postgresService = topology.service('payments', 'postgres');
    const postgres = topology.pod('payments', 'postgres')!;
    const gatewayPeer = topology.podPeer(gateway);
    const apiPeer = topology.podPeer(api);
    const postgresPeer = topology.podPeer(postgres);
    const apiPort = apiService ? (topology.targetPort(apiService.service.ports[0]!, api) ?? 8080) : 8080;
    const activities: Activity[] = [];

    /** payments-api's queries on its connection pool; now and then a new pool connection. */
    const database = (t: number): number => {
      if (sim.prng.chance(0.02)) {
        const lookup = sim.resolve({ t, client: api, name: 'postgres', searchList: true });
        if (!lookup.ips) return lookup.t;
        return sim.tcpSession({ t: lookup.t, client: apiPeer, server: postgresPeer, port: 5432, ...(postgresService ? { service: postgresService } : {}), exchanges: sim.prng.int(1, 3), serviceNs: sim.between(300_000, 3 * MS) }).end;
      }
      if (!sim.prng.chance(0.35)) return t + sim.between(500_000, 4 * MS);
      return sim.tcpSession({ t, client: apiPeer, server: postgresPeer, port: 5432, ...(postgresService ? { service: postgresService } : {}), exchanges: sim.prng.int(1, 3), serviceNs: sim.between(300_000, 3 * MS), established: true, traceEveryExchange: true }).end;
    };

    /** A card network webhook after a transfer: payments-api may not leave the cluster. */
    const stripe = (t: number): void => {
      const lookup = sim.resolve({ t, client: api, name: 'api.stripe.com', searchList: true });
      if (!lookup.ips || lookup.ips.length === 0) return;
      const server = topology.addressPeer(sim.prng.pick(lookup.ips));
      sim.tcpSession({ t: lookup.t + sim.between(50_000, 300_000), client: apiPeer, server, port: 443, serverNames: ['api.stripe.com'], exchanges: 2, retries: 3 });
    };

    /** One user request: the internet → web-gateway, which calls payments-api, which asks postgres. */
    const userRequest = (t0: number): void => {
      const user = topology.addressPeer(sim.prng.pick(USER_ADDRESSES));
      const userOneWay = sim.latency(user, gatewayPeer);
      // The gateway works once the request has arrived: after the handshake and one more trip.
      const arrived = t0 + 4 * userOneWay + HANDSHAKE_NS;
      const lookup = sim.resolve({ t: arrived + sim.between(100_000, 500_000), client: gateway, name: 'payments-api.payments', searchList: true });
      let answered = lookup.t;
      if (lookup.ips) {
        const apiOneWay = sim.latency(gatewayPeer, apiPeer);
        const pooled = !sim.prng.chance(0.3);
        const atApi = lookup.t + (pooled ? apiOneWay : 4 * apiOneWay + HANDSHAKE_NS);
        const dbStart = atApi + sim.between(200_000, 600_000);
        const dbTime = database(dbStart) - dbStart;
        const calls = Array.from({ length: sim.prng.chance(0.2) ? 2 : 1 }, () => paymentsCall(sim));
        const withDb = calls.map((call, index) => (index === 0 ? { ...call, serviceNs: call.serviceNs + dbTime + 600_000 } : call));
        const session = sim.tcpSession({ t: lookup.t, client: gatewayPeer, server: apiPeer, port: apiPort, ...(apiService ? { service: apiService } : {}), exchanges: withDb, authority: 'payments-api.payments', established: pooled, oneWayNs: apiOneWay });
        answered = session.end;
        if (session.allowed && calls.some((call) => call.method === 'POST') && sim.prng.chance(0.08)) stripe(answered - 1 * MS);
      }
      sim.tcpSession({ t: t0, client: user, server: gatewayPeer, port: 8443, exchanges: 1, oneWayNs: userOneWay, serviceNs: Math.max(1 * MS, answered - arrived) + sim.between(200_000, 1 * MS) });
    };

    const userRate = 0.05 * setup.intensity;
    activities.push({
      kind: 'traffic',
      first: nextArrival(sim, startMs, 0, userRate),
      run: (at) => {
        userRequest(at);
        return nextArrival(sim, startMs, at, userRate);
      },
    });

    // An SDK in the gateway looks for cloud credentials now and then: the cluster guardrail blocks it.
    // (Mistakes keep their pace whatever the traffic intensity.)
    activities.push({
      kind: 'traffic',
      first: sim.exponential(2 * HOUR),
      run: (at) => {
        sim.tcpSession({ t: at, client: gatewayPeer, server: topology.addressPeer('169.254.169.254'), port: 80, exchanges: 1, retries: 2 });
        return at + sim.exponential(2 * HOUR);
      },
    });

    // Someone runs a database script from the gateway pod: postgres only accepts the API.
    activities.push({
      kind: 'traffic',
      first: sim.exponential(3 * HOUR),
      run: (at) => {
        const lookup = sim.resolve({ t: at, client: gateway, name: 'postgres.payments', searchList: true });
        if (lookup.ips) sim.tcpSession({ t: lookup.t, client: gatewayPeer, server: postgresPeer, port: 5432, ...(postgresService ? { service: postgresService } : {}), exchanges: 1, retries: 3 });
        return at + sim.exponential(3 * HOUR);
      },
    });

    const reconcile = batchPodOf(topology, 'payments', 'payments-reconcile');
    if (reconcile) {
      const peer = topology.podPeer(reconcile);
      activities.push({
        kind: 'traffic',
        first: nextCalendar(startMs, 0, { hour: 2, minute: 0 }),
        run: (at) => {
          // The CronJob's pod starts a few seconds after 02:00 and reconciles for several minutes.
          const t = at + sim.between(2 * SECOND, 6 * SECOND);
          const lookup = sim.resolve({ t, client: reconcile, name: 'postgres', searchList: true });
          if (lookup.ips) {
            sim.tcpSession({ t: lookup.t, client: peer, server: postgresPeer, port: 5432, ...(postgresService ? { service: postgresService } : {}), exchanges: sim.prng.int(30, 90), gapNs: sim.between(3 * SECOND, 8 * SECOND), serviceNs: sim.between(20 * MS, 400 * MS), traceEveryExchange: true });
          }
          return nextCalendar(startMs, at + HOUR, { hour: 2, minute: 0 });
        },
      });
    }

    const monthEnd = batchPodOf(topology, 'payments', 'payments-month-end');
    if (monthEnd) {
      const peer = topology.podPeer(monthEnd);
      activities.push({
        kind: 'traffic',
        first: nextCalendar(startMs, 0, { hour: 1, minute: 0, dayOfMonth: 1 }),
        run: (at) => {
          // The Job retries its pod with back-off (10 s, 20 s) when it fails.
          let t = at + sim.between(2 * SECOND, 6 * SECOND);
          for (let attempt = 0; attempt < 3; attempt++) {
            const lookup = sim.resolve({ t, client: monthEnd, name: 'postgres', searchList: true });
            if (!lookup.ips) break;
            const result = sim.tcpSession({ t: lookup.t, client: peer, server: postgresPeer, port: 5432, ...(postgresService ? { service: postgresService } : {}), exchanges: sim.prng.int(50, 80), gapNs: sim.between(1 * SECOND, 3 * SECOND), serviceNs: sim.between(50 * MS, 900 * MS), traceEveryExchange: true, retries: 4 });
            if (result.allowed) break;
            t = result.end + 10 * SECOND * 2 ** attempt + sim.between(1 * SECOND, 4 * SECOND);
          }
          return nextCalendar(startMs, at + DAY, { hour: 1, minute: 0, dayOfMonth: 1 });
        },
      });
    }

    activities.push(...probeActivities(setup, (info) => PAYMENTS_PROBE_PORTS[info.key] ?? firstTcpPort(info)));
    return activities;
  },
};

// ---- mesh ----

const MESH_EXTERNAL = new Map<string, readonly string[]>([
  ['api.github.com', ['203.0.113.10']],
  ['registry.npmjs.org', ['203.0.113.20', '203.0.113.21']],
  ['sts.amazonaws.com', ['203.0.113.30']],
  ['api.stripe.com', ['203.0.113.41', '203.0.113.42']],
]);

const HTTP_PORTS = new Set([80, 3000, 5000, 8000, 8080, 8081, 9080]);

interface MeshTarget {
  readonly service: ServiceInfo;
  readonly servicePort: number;
  readonly http: boolean;
}

/** Candidate Service ports per pod, split by what the policies allow (one backend decides for the Service). */
function meshTargets(sim: Simulation, source: PodInfo, limit: number): { intended: MeshTarget[]; allowed: MeshTarget[]; denied: MeshTarget[] } {
  const intended: MeshTarget[] = [];
  const allowed: MeshTarget[] = [];
  const denied: MeshTarget[] = [];
  const dns = sim.dns;
  let candidates: MeshTarget[] = [];
  for (const service of sim.topology.services) {
    if (service === dns || service.backends.length === 0) continue;
    for (const port of service.service.ports) {
      if (port.protocol !== 'TCP') continue;
      const name = typeof port.targetPort === 'string' ? port.targetPort : (port.name ?? '');
      candidates.push({ service, servicePort: port.port, http: name.startsWith('http') || HTTP_PORTS.has(port.port) });
    }
  }
  if (candidates.length > limit) candidates = sim.prng.some(candidates, limit).sort((a, b) => sim.topology.services.indexOf(a.service) - sim.topology.services.indexOf(b.service) || a.servicePort - b.servicePort);
  const sourcePeer = sim.topology.podPeer(source);
  for (const target of candidates) {
    const backend = target.service.backends.find((pod) => pod !== source);
    if (!backend) continue;
    const port = target.service.service.ports.find((candidate) => candidate.port === target.servicePort)!;
    const containerPort = sim.topology.targetPort(port, backend);
    if (containerPort === undefined) continue;
    const verdict = sim.evaluate(sourcePeer, sim.topology.podPeer(backend), 'TCP', containerPort);
    if (!verdict.allowed) denied.push(target);
    else if (verdict.egress.reason === 'allowed' || verdict.ingress.reason === 'allowed') intended.push(target);
    else allowed.push(target);
  }
  return { intended, allowed, denied };
}

export const MESH_PROFILE: Profile = {
  name: 'mesh',
  summary: 'any manifests: each pod calls the Services its policies allow (HTTP where the port says so), looks names up in cluster DNS first, tries some denied and external destinations, gets probed; Job/CronJob pods run nightly',
  defaultProbeEvery: 6,
  externalNames: MESH_EXTERNAL,
  upstreamResolver: '1.1.1.1',

  extend(cluster) {
    if (!cluster.pods.some((pod) => !pod.hostNetwork)) {
      throw new GenerateError('PODGATE_E_PROFILE', 'the mesh profile needs pods (or workloads) in the manifests, and there are none', 'add Pods or Deployments to the manifests given with -f');
    }
    return cluster;
  },

  activities(setup) {
    const { sim, topology, startMs } = setup;
    const activities: Activity[] = [];
    // Cluster DNS answers; it does not call the applications.
    const dnsPods = new Set(sim.dns?.backends ?? []);
    const sources = topology.pods.filter((info) => !info.batch && !dnsPods.has(info));
    const limit = Math.max(8, Math.floor(200_000 / Math.max(1, sources.length)));
    const call = (t: number, source: PodInfo, target: MeshTarget): number => {
      const lookup = sim.resolve({ t, client: source, name: target.service.fqdn, searchList: false });
      if (!lookup.ips) return lookup.t;
      const backend = backendFor(sim, target.service, target.servicePort);
      if (!backend) return lookup.t;
      const exchanges: HttpCall[] | number = target.http
        ? Array.from({ length: sim.prng.int(1, 3) }, () => (sim.prng.chance(0.8)
          ? { method: 'GET', path: `/api/v1/items/${sim.prng.int(1, 5000)}`, code: sim.prng.chance(0.02) ? 503 : 200, serviceNs: sim.between(1 * MS, 30 * MS) }
          : { method: 'POST', path: '/api/v1/items', code: 201, serviceNs: sim.between(5 * MS, 60 * MS) }))
        : sim.prng.int(1, 3);
      const authority = `${target.service.service.name}.${target.service.service.namespace}${target.servicePort === 80 ? '' : `:${target.servicePort}`}`;
      return sim.tcpSession({ t: lookup.t, client: topology.podPeer(source), server: topology.podPeer(backend.pod), port: backend.port, service: target.service, exchanges, authority }).end;
    };
    for (const source of sources) {
      const { intended, allowed, denied } = meshTargets(sim, source, limit);
      const usual = intended.length > 0 ? intended : sim.prng.some(allowed, 3);
      // A pod its policies let call nothing is mostly a server: it only now and then tries something.
      const rate = (usual.length > 0 ? 0.05 : 0.0025) * setup.intensity;
      if (usual.length > 0 || denied.length > 0) {
        activities.push({
          kind: 'traffic',
          first: nextArrival(sim, startMs, 0, rate),
          run: (at) => {
            const target = denied.length > 0 && (usual.length === 0 || sim.prng.chance(0.03)) ? sim.prng.pick(denied) : sim.prng.pick(usual);
            call(at, source, target);
            return nextArrival(sim, startMs, at, rate);
          },
        });
      }
      const externalRate = 0.002 * setup.intensity;
      const names = [...MESH_EXTERNAL.keys()];
      activities.push({
        kind: 'traffic',
        first: nextArrival(sim, startMs, 0, externalRate),
        run: (at) => {
          const name = sim.prng.pick(names);
          const lookup = sim.resolve({ t: at, client: source, name, searchList: true });
          const peer = topology.podPeer(source);
          if (sim.prng.chance(0.05)) sim.tcpSession({ t: lookup.t, client: peer, server: topology.addressPeer('169.254.169.254'), port: 80, exchanges: 1, retries: 1 });
          else if (lookup.ips && lookup.ips.length > 0) sim.tcpSession({ t: lookup.t, client: peer, server: topology.addressPeer(sim.prng.pick(lookup.ips)), port: 443, serverNames: [name], exchanges: sim.prng.int(1, 4), retries: 2 });
          return nextArrival(sim, startMs, at, externalRate);
        },
      });
    }
    // Job and CronJob pods run once a night, at a minute of their own.
    for (const job of topology.pods.filter((info) => info.batch)) {
      const { intended, allowed, denied } = meshTargets(sim, job, limit);
      const targets = intended.length > 0 ? intended : allowed.length > 0 ? sim.prng.some(allowed, 2) : denied.slice(0, 1);
      if (targets.length === 0) continue;
      const minute = stableHash(job.key, 31) % 50;
      activities.push({
        kind: 'traffic',
        first: nextCalendar(startMs, 0, { hour: 2, minute }),
        run: (at) => {
          let t = at + sim.between(2 * SECOND, 6 * SECOND);
          for (let round = 0; round < 20; round++) t = call(t, job, sim.prng.pick(targets)) + sim.between(1 * SECOND, 10 * SECOND);
          return nextCalendar(startMs, at + HOUR, { hour: 2, minute });
        },
      });
    }
    activities.push(...probeActivities(setup, firstTcpPort));
    return activities;
  },
};

export const PROFILES: ReadonlyMap<string, Profile> = new Map([
  [PAYMENTS_PROFILE.name, PAYMENTS_PROFILE],
  [MESH_PROFILE.name, MESH_PROFILE],
]);

export function profileNamed(name: string): Profile {
  const profile = PROFILES.get(name);
  if (!profile) throw new GenerateError('PODGATE_E_PROFILE', `unknown profile "${name}"`, `use one of: ${[...PROFILES.keys()].join(', ')}`);
  return profile;
}
