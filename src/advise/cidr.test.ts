import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../policy/address.js';
import { aggregateAddresses } from './cidr.js';

test('aggregateAddresses: private addresses exact, public ones within their /24, siblings merged', () => {
  const cases: { name: string; ips: string[]; cidrs: string[] }[] = [
    { name: 'one private address', ips: ['10.0.0.7'], cidrs: ['10.0.0.7/32'] },
    { name: 'adjacent private pair merges', ips: ['10.0.0.6', '10.0.0.7'], cidrs: ['10.0.0.6/31'] },
    { name: 'non-sibling private pair stays apart', ips: ['10.0.0.7', '10.0.0.8'], cidrs: ['10.0.0.7/32', '10.0.0.8/32'] },
    { name: 'a full private /30', ips: ['192.168.1.4', '192.168.1.5', '192.168.1.6', '192.168.1.7'], cidrs: ['192.168.1.4/30'] },
    { name: 'three of four private: no widening', ips: ['192.168.1.4', '192.168.1.5', '192.168.1.6'], cidrs: ['192.168.1.4/31', '192.168.1.6/32'] },
    { name: 'link-local metadata stays exact', ips: ['169.254.169.254'], cidrs: ['169.254.169.254/32'] },
    { name: 'public addresses of one /24: the smallest covering prefix', ips: ['198.51.100.10', '198.51.100.40'], cidrs: ['198.51.100.0/26'] },
    { name: 'public addresses across two /24s: two blocks', ips: ['203.0.113.10', '203.0.114.10'], cidrs: ['203.0.113.10/32', '203.0.114.10/32'] },
    { name: 'public widening never reaches past the /24', ips: ['198.51.100.1', '198.51.100.254'], cidrs: ['198.51.100.0/24'] },
    { name: 'order and duplicates do not matter', ips: ['10.0.0.7', '10.0.0.6', '10.0.0.7'], cidrs: ['10.0.0.6/31'] },
    { name: 'IPv6 private exact, public within /64', ips: ['fd00::1', '2001:db8::1', '2001:db8::ff'], cidrs: ['2001:db8::/120', 'fd00::1/128'] },
  ];
  for (const entry of cases) {
    const cidrs = aggregateAddresses(entry.ips.map((text) => parseIp(text)!)).map((cidr) => cidr.text);
    assert.deepEqual(cidrs, entry.cidrs, entry.name);
  }
});
