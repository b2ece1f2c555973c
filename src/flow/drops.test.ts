import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerDrops } from '../cli/commands/drops.js';
import { CliError, type Output } from '../cli/common.js';
import { dropIdentities, newDropJson, NewDropDetector, stableIdentity, watchDrops, webhookNotifier, type NewDrop } from './drops.js';
import { parseDurationNs, type Flow, type FlowEndpoint, type FlowRecord } from './model.js';

const web: FlowEndpoint = { namespace: 'frontend', pod_name: 'web-7d4b9c-x2x9z', identity: 41234, labels: ['k8s:app=web'], workloads: [{ name: 'web', kind: 'Deployment' }] };
const postgres: FlowEndpoint = { namespace: 'payments', pod_name: 'postgres-0', identity: 50211, labels: ['k8s:app.kubernetes.io/name=postgres'] };
const api: FlowEndpoint = { namespace: 'payments', pod_name: 'payments-api-5f8d-abcde', identity: 50212, workloads: [{ name: 'payments-api', kind: 'Deployment' }] };
const batch: FlowEndpoint = { namespace: 'batch', pod_name: 'report-28500000-q7x2m' };

interface DropSpec {
  readonly at: string;
  readonly from: FlowEndpoint;
  readonly to: FlowEndpoint;
  readonly port: number;
  readonly reason?: string;
  readonly verdict?: Flow['verdict'];
}

/** A dropped TCP SYN as a Cilium agent reports it (the numeric identities vary on purpose). */
function drop(spec: DropSpec): FlowRecord {
  return {
    flow: {
      time: spec.at,
      verdict: spec.verdict ?? 'DROPPED',
      drop_reason_desc: spec.reason ?? 'POLICY_DENIED',
      event_type: { type: 1, sub_type: 133 },
      IP: { source: '10.0.1.5', destination: '10.0.2.9', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000 + Number(spec.at.slice(17, 19)), destination_port: spec.port, flags: { SYN: true } } },
      source: spec.from,
      destination: spec.to,
      node_name: 'kind-worker',
      is_reply: false,
    },
    node_name: 'kind-worker',
    time: spec.at,
  };
}

async function* stream(records: readonly FlowRecord[]): AsyncGenerator<FlowRecord> {
  yield* records;
}

function keys(drops: readonly NewDrop[]): string[] {
  return drops.map((found) => `${found.key.source} -> ${found.key.destination} ${found.key.protocol}/${found.key.port ?? '-'} ${found.key.reason} x${found.count}`);
}

describe('stableIdentity', () => {
  const cases: Array<[string, Flow, 'source' | 'destination', string, string]> = [
    ['workload beats app and pod', { source: web }, 'source', 'frontend/web', 'workload'],
    ['app label when no workload', { destination: postgres }, 'destination', 'payments/postgres', 'app'],
    ['pod name as the last in-cluster resort', { source: batch }, 'source', 'batch/report-28500000-q7x2m', 'pod'],
    ['reserved label outside pods', { source: { identity: 1, labels: ['reserved:host'] }, IP: { source: '172.18.0.2' } }, 'source', 'reserved:host', 'reserved'],
    ['kube-apiserver over world', { destination: { identity: 7, labels: ['reserved:world', 'reserved:kube-apiserver'] } }, 'destination', 'reserved:kube-apiserver', 'reserved'],
    ['world by DNS name', { destination: { identity: 2, labels: ['reserved:world'] }, destination_names: ['api.stripe.com'], IP: { destination: '54.187.174.169' } }, 'destination', 'api.stripe.com', 'dns'],
    ['world by IP without a name', { destination: { identity: 2, labels: ['reserved:world'] }, IP: { destination: '54.187.174.169' } }, 'destination', '54.187.174.169', 'ip'],
    ['world label when nothing else', { destination: { labels: ['reserved:world'] } }, 'destination', 'reserved:world', 'world'],
    ['unknown for an empty endpoint', { source: {} }, 'source', 'unknown', 'unknown'],
  ];
  for (const [name, flow, side, expected, kind] of cases) {
    it(name, () => assert.deepEqual(stableIdentity(flow, side), { name: expected, kind }));
  }

  it('keys a dropped reply as its request and ignores other verdicts', () => {
    const reply: Flow = { verdict: 'DROPPED', drop_reason_desc: 'CT_MAP_INSERTION_FAILED', is_reply: true, source: postgres, destination: web, l4: { TCP: { source_port: 5432, destination_port: 41000 } } };
    assert.deepEqual(dropIdentities(reply)?.key, { source: 'frontend/web', destination: 'payments/postgres', protocol: 'TCP', port: 5432, reason: 'CT_MAP_INSERTION_FAILED' });
    assert.equal(dropIdentities({ ...reply, verdict: 'FORWARDED' }), undefined);
    assert.deepEqual(dropIdentities({ verdict: 'DROPPED', l4: { ICMPv6: { type: 133 } } })?.key, { source: 'unknown', destination: 'unknown', protocol: 'ICMPv6', reason: 'DROP_REASON_UNKNOWN' });
  });
});

describe('NewDropDetector', () => {
  const baselineRecords = [
    drop({ at: '2024-05-01T09:00:00Z', from: web, to: postgres, port: 5432 }),
    // Same workloads, other pods and numeric identities: still the same drop.
    drop({ at: '2024-05-01T09:00:05Z', from: { ...web, pod_name: 'web-7d4b9c-aaaaa', identity: 99999 }, to: { ...postgres, identity: 12 }, port: 5432 }),
    drop({ at: '2024-05-01T09:00:10Z', from: web, to: api, port: 8080, verdict: 'FORWARDED' }),
  ];
  const watched = [
    drop({ at: '2024-05-02T10:00:00Z', from: { ...web, pod_name: 'web-7d4b9c-zzzzz', identity: 77777 }, to: postgres, port: 5432 }),
    drop({ at: '2024-05-02T10:00:01Z', from: web, to: api, port: 8080 }),
    drop({ at: '2024-05-02T10:00:02Z', from: web, to: api, port: 8080 }),
    drop({ at: '2024-05-02T10:00:03Z', from: web, to: postgres, port: 5432, reason: 'POLICY_DENY' }),
    drop({ at: '2024-05-02T10:00:04Z', from: batch, to: api, port: 8443 }),
    drop({ at: '2024-05-02T10:00:05Z', from: web, to: api, port: 8080, verdict: 'FORWARDED' }),
  ];

  it('reports each drop missing from a baseline file once, counting later ones', async () => {
    const detector = new NewDropDetector();
    for (const record of baselineRecords) detector.learn(record);
    assert.equal(detector.baselineSize, 1);
    const reported: NewDrop[] = [];
    const result = await watchDrops({ records: stream(watched), detector, onNewDrop: (found) => void reported.push(found) });
    assert.equal(result.flows, 6);
    assert.deepEqual(keys(reported), ['frontend/web -> payments/payments-api TCP/8080 POLICY_DENIED x1', 'frontend/web -> payments/postgres TCP/5432 POLICY_DENY x1', 'batch/report-28500000-q7x2m -> payments/payments-api TCP/8443 POLICY_DENIED x1']);
    assert.deepEqual(keys(result.newDrops), ['frontend/web -> payments/payments-api TCP/8080 POLICY_DENIED x2', 'frontend/web -> payments/postgres TCP/5432 POLICY_DENY x1', 'batch/report-28500000-q7x2m -> payments/payments-api TCP/8443 POLICY_DENIED x1']);
    assert.equal(reported[0]?.firstSeen, '2024-05-02T10:00:01Z');
    assert.deepEqual(newDropJson(reported[0]!), {
      first_seen: '2024-05-02T10:00:01Z',
      source: 'frontend/web',
      source_kind: 'workload',
      destination: 'payments/payments-api',
      destination_kind: 'workload',
      protocol: 'TCP',
      port: 8080,
      reason: 'POLICY_DENIED',
      count: 1,
      node_name: 'kind-worker',
    });
  });

  it('without a baseline reports every distinct drop once', async () => {
    const result = await watchDrops({ records: stream(watched), detector: new NewDropDetector(), onNewDrop: () => undefined });
    assert.equal(result.newDrops.length, 4);
  });

  it('learns from the first --baseline-window of the stream by record time', async () => {
    const detector = new NewDropDetector({ baselineWindowNs: parseDurationNs('1h')! });
    const records = [
      drop({ at: '2024-05-02T08:00:00Z', from: web, to: postgres, port: 5432 }),
      drop({ at: '2024-05-02T08:59:59Z', from: web, to: api, port: 8080 }),
      // After the window: known drops stay quiet, a new one is reported.
      drop({ at: '2024-05-02T09:00:00Z', from: web, to: api, port: 8080 }),
      drop({ at: '2024-05-02T09:30:00Z', from: batch, to: postgres, port: 5432 }),
      drop({ at: '2024-05-02T09:30:01Z', from: web, to: postgres, port: 5432 }),
    ];
    const reported: NewDrop[] = [];
    await watchDrops({ records: stream(records), detector, onNewDrop: (found) => void reported.push(found) });
    assert.equal(detector.baselineSize, 2);
    assert.deepEqual(keys(reported), ['batch/report-28500000-q7x2m -> payments/postgres TCP/5432 POLICY_DENIED x1']);
    assert.equal(reported[0]?.firstSeen, '2024-05-02T09:30:00Z');
  });

  it('reports only drops touching the --namespace namespaces (either end)', async () => {
    const detector = new NewDropDetector({ namespaces: ['batch'] });
    const result = await watchDrops({ records: stream(watched), detector, onNewDrop: () => undefined });
    assert.deepEqual(keys(result.newDrops), ['batch/report-28500000-q7x2m -> payments/payments-api TCP/8443 POLICY_DENIED x1']);
    const both = await watchDrops({ records: stream(watched), detector: new NewDropDetector({ namespaces: ['frontend', 'nowhere'] }), onNewDrop: () => undefined });
    assert.equal(both.newDrops.length, 3);
  });
});

describe('parseDurationNs', () => {
  const cases: Array<[string, bigint | undefined]> = [
    ['24h', 86_400_000_000_000n],
    ['1h30m', 5_400_000_000_000n],
    ['1.5s', 1_500_000_000n],
    ['250ms', 250_000_000n],
    ['7d', 604_800_000_000_000n],
    ['24', undefined],
    ['h', undefined],
    ['-1h', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => assert.equal(parseDurationNs(text), expected));
});

/** A webhook receiver on 127.0.0.1:0 that answers each POST with the next status in `statuses` (200 after). */
async function startReceiver(statuses: number[] = []): Promise<{ url: string; bodies: unknown[]; close(): Promise<void> }> {
  const bodies: unknown[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push({ method: request.method, type: request.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/drops`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('webhook', () => {
  const records = [
    drop({ at: '2024-05-02T10:00:01Z', from: web, to: api, port: 8080 }),
    drop({ at: '2024-05-02T10:00:02Z', from: batch, to: api, port: 8443 }),
    drop({ at: '2024-05-02T10:00:03Z', from: batch, to: postgres, port: 5432 }),
  ];

  it('POSTs one JSON body per new drop', async () => {
    const receiver = await startReceiver();
    try {
      const errors: string[] = [];
      const notify = webhookNotifier(receiver.url, (error) => errors.push(error.message));
      const result = await watchDrops({ records: stream(records), detector: new NewDropDetector(), onNewDrop: notify });
      assert.deepEqual(errors, []);
      assert.deepEqual(
        receiver.bodies,
        result.newDrops.map((found) => ({ method: 'POST', type: 'application/json', body: newDropJson(found) })),
      );
    } finally {
      await receiver.close();
    }
  });

  it('reports a failing webhook and goes on watching', async () => {
    const receiver = await startReceiver([500]);
    try {
      const errors: string[] = [];
      const notify = webhookNotifier(receiver.url, (error, found) => errors.push(`${found.key.source}: ${error.message}`));
      const result = await watchDrops({ records: stream(records), detector: new NewDropDetector(), onNewDrop: notify });
      assert.equal(result.newDrops.length, 3);
      assert.equal(receiver.bodies.length, 3);
      assert.deepEqual(errors, [`frontend/web: POST ${receiver.url} answered 500 Internal Server Error`]);
    } finally {
      await receiver.close();
    }
    // Nothing listens any more: every POST fails, every drop is still reported.
    const errors: string[] = [];
    const result = await watchDrops({ records: stream(records), detector: new NewDropDetector(), onNewDrop: webhookNotifier(receiver.url, (error) => errors.push(error.message)) });
    assert.equal(result.newDrops.length, 3);
    assert.equal(errors.length, 3);
    assert.match(errors[0] ?? '', /^POST http:\/\/127\.0\.0\.1:\d+\/hooks\/drops failed: fetch failed/);
  });
});

describe('podgate drops watch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-drops-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, lines: readonly FlowRecord[] | string): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof lines === 'string' ? lines : lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    return path;
  };
  const baseline = write('baseline.jsonl', [drop({ at: '2024-05-01T09:00:00Z', from: web, to: postgres, port: 5432 })]);
  const today = write('today.jsonl', `${JSON.stringify(drop({ at: '2024-05-02T10:00:00Z', from: web, to: postgres, port: 5432 }))}\nnot json\n${JSON.stringify(drop({ at: '2024-05-02T10:00:01Z', from: web, to: api, port: 8080 }))}\n`);

  async function run(args: readonly string[]): Promise<{ out: string[]; err: string[]; status: number | undefined }> {
    const out: string[] = [];
    const err: string[] = [];
    const output: Output = { out: (text) => out.push(text), err: (text) => err.push(text) };
    const program = new Command().exitOverride();
    registerDrops(program, output);
    const previous = process.exitCode;
    try {
      await program.parseAsync(['drops', 'watch', ...args], { from: 'user' });
      return { out, err, status: typeof process.exitCode === 'number' ? process.exitCode : undefined };
    } finally {
      process.exitCode = previous;
    }
  }

  it('prints new drops as JSON lines, POSTs them, warns about skipped lines and exits 1', async () => {
    const receiver = await startReceiver();
    try {
      const result = await run(['--file', today, '--baseline', baseline, '-o', 'json', '--webhook', receiver.url]);
      assert.equal(result.status, 1);
      assert.deepEqual(
        result.out.map((line) => JSON.parse(line) as unknown),
        [{ first_seen: '2024-05-02T10:00:01Z', source: 'frontend/web', source_kind: 'workload', destination: 'payments/payments-api', destination_kind: 'workload', protocol: 'TCP', port: 8080, reason: 'POLICY_DENIED', count: 1, node_name: 'kind-worker' }],
      );
      assert.equal(receiver.bodies.length, 1);
      assert.match(result.err.join('\n'), /PODGATE_W_FLOW_SKIPPED: skipped 1 unreadable line[\s\S]*today\.jsonl:2/);
      assert.match(result.err.join('\n'), /1 new drop:\n {2}frontend\/web -> payments\/payments-api TCP\/8080 POLICY_DENIED: 1 flow, first seen 2024-05-02T10:00:01Z/);
    } finally {
      await receiver.close();
    }
  });

  it('exits 0 when every drop is in the baseline, and keeps going when the webhook fails', async () => {
    const quiet = await run(['--file', today, '--baseline', today]);
    assert.equal(quiet.status, 0);
    assert.deepEqual(quiet.out, []);
    const closed = await startReceiver();
    await closed.close();
    const unreachable = await run(['--file', today, '--webhook', closed.url, '--namespace', 'payments']);
    assert.equal(unreachable.status, 1);
    assert.equal(unreachable.out.length, 2);
    assert.match(unreachable.out[0] ?? '', /^2024-05-02T10:00:00Z new drop: frontend\/web -> payments\/postgres TCP\/5432 POLICY_DENIED \(count 1\)$/);
    assert.equal(unreachable.err.filter((line) => line.includes('PODGATE_W_WEBHOOK')).length, 2);
  });

  const usage: Array<[string[], RegExp]> = [
    [['--file', 'x', '--server', 'localhost:4245'], /--file and --server/],
    [['--baseline', 'a', '--baseline-window', '24h'], /--baseline and --baseline-window/],
    [['--baseline-window', 'tomorrow'], /not a positive duration/],
    [['-o', 'yaml'], /unknown output/],
    [['--webhook', 'ftp://example.com/'], /http or https/],
    [['--webhook', 'not a url'], /not a URL/],
  ];
  for (const [args, message] of usage) {
    it(`rejects ${args.join(' ')}`, async () => {
      await assert.rejects(run(args), (error: unknown) => error instanceof CliError && error.code === 'PODGATE_E_USAGE' && error.exitCode === 2 && message.test(error.message));
    });
  }

  it('names a missing file with PODGATE_E_INPUT', async () => {
    await assert.rejects(run(['--file', join(dir, 'missing.jsonl')]), (error: unknown) => error instanceof CliError && error.code === 'PODGATE_E_INPUT');
  });
});
