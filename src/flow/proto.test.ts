/**
 * The protobuf conversion against Go's protojson: every real Hubble line, encoded to protobuf and
 * decoded back, prints the same bytes `hubble observe -o json` printed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { decodeJson, encodeJson, messageType, PODGATE_EXTENSION_FIELD } from './proto.js';

const PROTO = fileURLToPath(new URL('../../../proto/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/hubble/', import.meta.url));

/** The response message a line is: debug events come from GetDebugEvents, the rest from GetFlows. */
function responseType(record: Record<string, unknown>): string {
  return 'debug_event' in record ? 'observer.GetDebugEventsResponse' : 'observer.GetFlowsResponse';
}

test('fixture lines survive JSON → protobuf → JSON byte for byte', (t) => {
  const files = ['hubble-observe-samples.jsonl', 'hubble-printer-test-expected.jsonl'].map((name) => FIXTURES + name);
  if (!files.every((file) => existsSync(file))) return t.skip(`fixtures not found in ${FIXTURES}`);
  let count = 0;
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n').filter((text) => text !== '')) {
      const record = JSON.parse(line) as Record<string, unknown>;
      const type = messageType(responseType(record));
      assert.equal(JSON.stringify(decodeJson(type, encodeJson(type, record))), line);
      count++;
    }
  }
  assert.equal(count, 42);
});

test('podgate extensions travel as an unknown field that Hubble decoders skip', () => {
  const type = messageType('observer.GetFlowsResponse');
  const record = { flow: { verdict: 'DROPPED', podgate: { enforcement: 'enforce', rules: ['payments/default-deny-all'], policy_revision: '3' } }, node_name: 'n1' };
  const bytes = encodeJson(type, record);
  assert.deepEqual(decodeJson(type, bytes), record);
  // A decoder built from Cilium's protos alone (a Hubble client) reads the flow and skips the field.
  const hubble = new protobuf.Root();
  hubble.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : PROTO + target);
  hubble.loadSync('observer/observer.proto', { keepCase: true });
  const hubbleType = hubble.lookupType('observer.GetFlowsResponse');
  const seen = hubbleType.toObject(hubbleType.decode(bytes), { enums: String }) as { flow: Record<string, unknown> };
  assert.deepEqual(seen, { flow: { verdict: 'DROPPED' }, node_name: 'n1' });
  assert.equal(hubble.lookupType('flow.Flow').fieldsById[PODGATE_EXTENSION_FIELD], undefined);
});

test('zero values are omitted and wrappers keep false, as protojson does', () => {
  const type = messageType('observer.GetFlowsResponse');
  const record = { flow: { verdict: 'VERDICT_UNKNOWN', is_reply: false, l4: { TCP: { source_port: 0, destination_port: 80 } }, policy_match_type: 0 } };
  assert.deepEqual(decodeJson(type, encodeJson(type, record)), { flow: { l4: { TCP: { destination_port: 80 } }, is_reply: false } });
});

test('requests: field masks and timestamps in both directions', () => {
  const type = messageType('observer.GetFlowsRequest');
  const request = { number: '20', follow: true, whitelist: [{ source_pod: ['payments/'], verdict: ['DROPPED'] }], since: '2026-11-01T00:00:00Z', field_mask: { paths: undefined } };
  const back = decodeJson(type, encodeJson(type, { ...request, field_mask: 'time,sourcePod' }));
  assert.deepEqual(back, { number: '20', follow: true, whitelist: [{ source_pod: ['payments/'], verdict: ['DROPPED'] }], since: '2026-11-01T00:00:00Z', field_mask: 'time,sourcePod' });
});
