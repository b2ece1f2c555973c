/** `podgate flows serve` and `podgate relay` as processes: listening line, Hubble clients, signals, bad input. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { atOf, cancel, flowAt, hubbleClient, take } from '../../flow/grpc/testing.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const directory = mkdtempSync(join(tmpdir(), 'podgate-serve-'));

function lines(ats: number[], node: string): string {
  return ats.map((at) => `${JSON.stringify(flowAt({ at, node }))}\n`).join('');
}

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly stderr: () => string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Starts podgate and waits for its listening line (the real port in it). */
function start(args: string[], pattern: RegExp): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const match = pattern.exec(stderr);
      if (match) resolve({ child, port: Number(match[1]), stderr: () => stderr, exited });
    });
    void exited.then((code) => reject(new Error(`podgate exited ${code} before listening:\n${stderr}`)));
  });
}

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('podgate flows serve and podgate relay', () => {
  it('serve answers a generated Hubble client, a relay merges two of them, SIGTERM stops both cleanly', async () => {
    const fileA = join(directory, 'a.jsonl');
    const fileB = join(directory, 'b.jsonl');
    writeFileSync(fileA, `${lines([0, 2, 4], 'node-a')}not json\n`);
    writeFileSync(fileB, lines([1, 3, 5], 'node-b'));
    const listening = /listening on 127\.0\.0\.1:(\d+)/;
    const agentA = await start(['flows', 'serve', '--file', fileA, '--listen', '127.0.0.1:0', '--node-name', 'node-a', '--metrics-listen', '127.0.0.1:0'], listening);
    const agentB = await start(['flows', 'serve', '--file', fileB, '--listen', '127.0.0.1:0', '--node-name', 'node-b'], listening);
    children.push(agentA.child, agentB.child);
    const relay = await start(['relay', '--peer', `node-a=127.0.0.1:${agentA.port}`, '--peer', `node-b=127.0.0.1:${agentB.port}`, '--listen', '127.0.0.1:0', '--node-name', 'relay'], listening);
    children.push(relay.child);

    // The files are read after the listening line; a follow stream waits for them without racing.
    const clientA = hubbleClient(`127.0.0.1:${agentA.port}`);
    const following = clientA.getFlows({ follow: true, number: 10 });
    assert.deepEqual((await take(following, 3)).map(atOf), [0, 2, 4]);
    cancel(following);
    const clientB = hubbleClient(`127.0.0.1:${agentB.port}`);
    const followingB = clientB.getFlows({ follow: true, number: 10 });
    assert.deepEqual((await take(followingB, 3)).map(atOf), [1, 3, 5]);
    cancel(followingB);

    const relayClient = hubbleClient(`127.0.0.1:${relay.port}`);
    const merged = await relayClient.collect({ number: 4 });
    assert.deepEqual(merged.filter((response) => response['response_types'] === 'flow').map(atOf), [2, 3, 4, 5]);
    const status = await relayClient.unary('ServerStatus');
    assert.equal(status['num_flows'], '6');

    const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(agentA.stderr())?.[1]);
    const metrics = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /hubble_flows_processed_total\{[^}]*\} 3/);

    for (const client of [clientA, clientB, relayClient]) client.close();
    for (const started of [relay, agentA, agentB]) started.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([relay.exited, agentA.exited, agentB.exited]), [0, 0, 0]);
    assert.match(agentA.stderr(), /PODGATE_W_FLOW_SKIPPED: skipped 1 unreadable line/);
    assert.match(agentA.stderr(), /SIGTERM: shutting down/);
  });

  it('--follow-file streams lines appended to the file', async () => {
    const file = join(directory, 'tail.jsonl');
    writeFileSync(file, lines([0], 'node-t'));
    const agent = await start(['flows', 'serve', '--file', file, '--follow-file', '--listen', '127.0.0.1:0'], /listening on 127\.0\.0\.1:(\d+)/);
    children.push(agent.child);
    const client = hubbleClient(`127.0.0.1:${agent.port}`);
    const stream = client.getFlows({ follow: true, number: 10 });
    assert.deepEqual((await take(stream, 1)).map(atOf), [0]);
    // Half a line first: nothing may be served until its newline arrives.
    const line = lines([1], 'node-t');
    appendFileSync(file, line.slice(0, 20));
    appendFileSync(file, line.slice(20));
    assert.deepEqual((await take(stream, 1)).map(atOf), [1]);
    cancel(stream);
    client.close();
    agent.child.kill('SIGINT');
    assert.equal(await agent.exited, 0);
  });

  const bad: { name: string; args: string[]; code: RegExp }[] = [
    { name: 'a listen address that is not host:port', args: ['flows', 'serve', '--file', '-', '--listen', 'nowhere'], code: /PODGATE_E_USAGE/ },
    { name: 'a missing file', args: ['flows', 'serve', '--file', join(directory, 'missing.jsonl'), '--listen', '127.0.0.1:0'], code: /PODGATE_E_INPUT/ },
    { name: 'nothing to serve', args: ['flows', 'serve', '--listen', '127.0.0.1:0'], code: /PODGATE_E_USAGE/ },
    { name: 'a relay without peers', args: ['relay', '--listen', '127.0.0.1:0'], code: /PODGATE_E_USAGE/ },
    { name: 'a relay peer that is not host:port', args: ['relay', '--peer', 'node-a', '--listen', '127.0.0.1:0'], code: /PODGATE_E_USAGE/ },
  ];
  for (const { name, args, code } of bad) {
    it(`exits 2 on ${name}, with a code and no stack trace`, () => {
      const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', input: '' });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, code);
      assert.match(result.stderr, /next:/);
      assert.doesNotMatch(result.stderr, /at .*\.js:\d+/);
    });
  }

  for (const args of [['flows', 'serve', '--help'], ['relay', '--help']]) {
    it(`podgate ${args.slice(0, -1).join(' ')} --help has options and an example`, () => {
      const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(result.status, 0);
      assert.match(result.stdout, /--listen/);
      assert.match(result.stdout, /Example/);
    });
  }
});
