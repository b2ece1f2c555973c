import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../cluster/endpoint.js';
import { parseCidr, type Cidr } from '../policy/address.js';
import type { PortMatch } from '../policy/ports.js';
import { representativeAddresses, samplePorts } from './sampling.js';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text).cidr;
  assert.ok(parsed, text);
  return parsed;
}

const POD: Endpoint = {
  kind: 'pod',
  pod: {
    namespace: 'shop',
    name: 'api',
    labels: new Map(),
    serviceAccount: 'default',
    ips: [],
    hostNetwork: false,
    containerPorts: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 5353, protocol: 'UDP' },
    ],
  },
};
const WORLD: Endpoint = { kind: 'external', peerClass: 'world', name: 'world' };

const PORT_CASES: readonly { name: string; ports: readonly PortMatch[] | undefined; dst: Endpoint; expect: string[] }[] = [
  { name: 'every port: the declared ports and one other', ports: undefined, dst: POD, expect: ['TCP/8080', 'UDP/5353', 'TCP/65535'] },
  { name: 'every port of a destination without ports', ports: undefined, dst: WORLD, expect: ['TCP/65535'] },
  { name: 'a named port resolves on the destination', ports: [{ protocol: 'TCP', name: 'http' }], dst: POD, expect: ['TCP/8080'] },
  { name: 'a named port of another protocol does not', ports: [{ protocol: 'TCP', name: 'dns' }], dst: POD, expect: [] },
  { name: 'a named port on a destination without names', ports: [{ protocol: 'ANY', name: 'http' }], dst: WORLD, expect: [] },
  { name: 'a range: both ends', ports: [{ protocol: 'UDP', port: 1000, endPort: 2000 }], dst: WORLD, expect: ['UDP/1000', 'UDP/2000'] },
  { name: 'any protocol on a port: TCP', ports: [{ protocol: 'ANY', port: 443 }], dst: WORLD, expect: ['TCP/443'] },
  { name: 'every UDP port', ports: [{ protocol: 'UDP' }], dst: POD, expect: ['UDP/5353', 'UDP/65535'] },
  { name: 'ICMP is not sampled', ports: [{ protocol: 'ICMP', port: 8 }], dst: POD, expect: [] },
];

for (const testCase of PORT_CASES) {
  test(`samplePorts: ${testCase.name}`, () => {
    assert.deepEqual(samplePorts(testCase.ports, testCase.dst).map((entry) => `${entry.protocol}/${entry.port}`), testCase.expect);
  });
}

const ADDRESS_CASES: readonly { name: string; cidr: string; except: string[]; expect: string[] }[] = [
  { name: 'one host is itself', cidr: '169.254.169.254/32', except: [], expect: ['169.254.169.254'] },
  { name: 'a block: its first host address', cidr: '10.0.0.0/8', except: [], expect: ['10.0.0.1'] },
  { name: 'the first host excepted: after the exception', cidr: '10.0.0.0/8', except: ['10.0.0.0/24'], expect: ['10.0.1.0'] },
  { name: 'all of it excepted: nothing', cidr: '10.0.0.0/24', except: ['10.0.0.0/24'], expect: [] },
  { name: 'IPv6', cidr: '2001:db8::/32', except: [], expect: ['2001:db8::1'] },
  { name: 'a /31 keeps its network address', cidr: '192.0.2.0/31', except: [], expect: ['192.0.2.0'] },
];

for (const testCase of ADDRESS_CASES) {
  test(`representativeAddresses: ${testCase.name}`, () => {
    const addresses = representativeAddresses({ cidr: cidr(testCase.cidr), except: testCase.except.map(cidr) });
    assert.deepEqual(addresses.map((address) => address.text), testCase.expect);
  });
}
