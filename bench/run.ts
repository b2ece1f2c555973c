/** `npm run bench -- NAME`: runs one benchmark, prints its figures and records them in docs/benchmarks.md. */
import { fileURLToPath } from 'node:url';
import { runFlowsBenchmark } from './flows.js';
import { runIdentityBenchmark } from './identity.js';
import { runPolicyBenchmark } from './policy.js';
import { runVerifyBenchmark } from './verify.js';
import { record, type Figure } from './report.js';

const BENCHMARKS: Record<string, { run: (log: (line: string) => void) => Figure[] | Promise<Figure[]>; notes: string[] }> = {
  policy: {
    run: runPolicyBenchmark,
    notes: [
      'Cluster: 10,000 pods in 1,000 namespaces (5 apps × 2 replicas each) plus DNS, 5,002 policies: per namespace default-deny, allow-dns, an app chain, a cross-namespace and in-namespace allow (NetworkPolicy) and a CiliumNetworkPolicy with L7 and mutual authentication; one clusterwide guardrail and one Admin-tier ClusterNetworkPolicy.',
      'lookups: the same connections through the compiled engine (1,000,000, three timed passes after a warm-up; `compiled_per_s` is their median, `passes_per_s` each pass) and the reference evaluator (a 300-connection prefix, timed on its own); verdicts of both are compared on that prefix (`disagreements`). `uniform`: both ends anywhere in the cluster (worst case for CPU caches); `node_local`: sources among the 100 pods of ten namespaces (one node agent\'s own pods), destinations anywhere; `service_graph`: connections along the dependencies the policies are written for (front app to its namespace, pods to DNS, front app to anywhere); `hot_set`: 1,000 distinct service-graph connections, repeated (the steady state of one node, where new connections reuse the same pod pairs and ports). The first three draw every connection afresh from 10,000 pods, so most reads miss the CPU caches: they measure memory latency as much as the engine. Each of these lookups decides both directions of the connection (a whole verdict). `uniform_one_direction` decides only the egress side of uniform connections: the policy-map lookup a node agent makes for its own pod (the source\'s agent checks egress, the destination\'s agent ingress). Endpoints carry the engine\'s handle, as the datapath resolves them.',
      'full_compile: median of 3 builds of the compiled engine from parsed policies; heap is the growth of the JavaScript heap plus array buffers (where the engine\'s int32 arena lives) after a forced GC (run with --expose-gc); `arenaWords` are the arena\'s live words.',
      'incremental: median of 15 changes applied to the live engine: one pod relabelled (new identity), one NetworkPolicy selector changed.',
    ],
  },
  flows: {
    run: runFlowsBenchmark,
    notes: [
      'Input: `podgate flows generate -f examples/payments --profile payments --duration 168h --count 1000000 --seed 1` (one file, used by every figure below). Child processes are timed by wall clock from this script, one after the other.',
      'observe_namespace_filter: `podgate observe --file F --namespace payments -o json` against `jq -c \'select(.flow.source.namespace == "payments" or .flow.destination.namespace == "payments")\'`; `same_flows` checks both print the same records in the same order.',
      'export_tsv: `podgate flows export --format tsv` against the corrected migration-guide pipeline `jq -r \'select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv\' | LC_ALL=C sort -u`; `identical` compares the two files byte for byte.',
      'store_ingest: parsed records appended with their line text and flushed in the store\'s batches (SQLite, WAL, synchronous=NORMAL), against writing the same lines to a plain file in 8,192-line writes (no index, no transaction): the floor for any durable log. Measured on the disk of the temporary directory and again on tmpfs (`store_ingest_tmpfs`), which separates the store\'s own cost from the disk\'s: with 1.4 KB records both the store and the plain file are bound by this VM\'s disk, whose throughput varies from run to run.',
      'store_range_query_1h_of_168h: a 1-hour window in the middle of the stored 168 h, every record parsed; median of 7. The same SQL with `NOT INDEXED` (a table scan) is the baseline.',
    ],
  },
  identity: {
    run: runIdentityBenchmark,
    notes: [
      'svid_issue: `signer` is the pure signing path (CSR parse and self-signature verify, certificate build, ECDSA P-256 sign) over 2,000 distinct CSRs, on one core; `authority` adds what the authority does per SVID (serial counter and audit row in SQLite, one transaction each); `raw_verify_sign` is the floor any signer pays, measured in the same run: importing a public key, one ECDSA verify and one ECDSA sign of same-sized messages with Node\'s crypto, nothing parsed or built.',
      'rotate_10000_svids: 10,000 workloads each get a new SVID as at their half-life: the agent side generates a P-256 key and a CSR, the authority verifies, signs and records it (in one process, no network).',
      'handshakes: two Node processes on loopback, 8 connections in flight, 4 s each. `mtls_svid`: TLS 1.3 with X509-SVIDs on both sides, the server requires and SPIFFE-verifies the client (chain against the bundle, SPIFFE shape rules, authorizer) and the client verifies the server\'s SPIFFE ID, before the server answers; `plain_self_signed`: TLS 1.3, server certificate only (self-signed ECDSA P-256 from openssl), Node\'s default host name check. Both clients build their TLS context once. `resumed` reuses TLS 1.3 session tickets (the share that really resumed is reported). A full mutual handshake does twice the certificate work of the baseline (each side signs, each side verifies a chain) plus the SPIFFE checks in JavaScript; the issue sets no target for it.',
    ],
  },
  verify: {
    run: runVerifyBenchmark,
    notes: [
      'Each generated file is flushed to disk (`sync`) before anything reads it, so the timed commands do not compete with the write-back of 1.3 GB. verify_payments: `podgate verify --flows F --policies examples/payments --output json` on 1,000,000 flows from `podgate flows generate --profile payments --count 1000000 --seed 1`, against `jq -c . F > /dev/null` (jq only parsing and printing the same file), both child processes timed by wall clock one after the other.',
      'advise_2000_pods: `podgate advise --flows F -f cluster.json --out DIR` on 1,000,000 flows from `podgate flows generate --profile mesh --count 1000000 --seed 2` over 200 namespaces of five two-replica apps behind Services (2,002 pods with cluster DNS) and no policies yet; wall clock of the whole command, reading and parsing included, with its default threads (one worker per core up to 4 for a JSON file over 64 MiB; here 2: `workers`); `advise_one_pass_s` is the same command with `--workers 1`, run right after it, and `same_output` compares the two output directories.',
    ],
  },
};

const name = process.argv[2];
const benchmark = name === undefined ? undefined : BENCHMARKS[name];
if (!benchmark) {
  process.stderr.write(`podgate bench: error PODGATE_E_USAGE: ${name === undefined ? 'name a benchmark' : `unknown benchmark "${name}"`}\n  next: npm run bench -- ${Object.keys(BENCHMARKS).join('|')}\n`);
  process.exit(2);
}
const figures = await benchmark.run((line) => process.stdout.write(`${line}\n`));
record(fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)), name!, figures, benchmark.notes);
process.stdout.write(`recorded in docs/benchmarks.md\n`);
