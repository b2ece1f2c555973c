import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, cidrWithin, parseCidr, parseIp } from './address.js';
test('IPv4 and IPv6 parsing rejects legacy and malformed forms', () => {
    for (const good of ['10.0.0.1', '0.0.0.0', '2001:db8::1', '::1'])
        assert.ok(parseIp(good), good);
    for (const bad of ['10.1', '0x0a.0.0.1', '256.0.0.1', '10.0.0.1/8', 'localhost', ''])
        assert.equal(parseIp(bad), undefined, bad);
});
test('CIDR containment, canonical form and problems', () => {
    const block = parseCidr('10.0.0.0/8').cidr;
    assert.ok(cidrContains(block, parseIp('10.255.1.2')));
    assert.ok(!cidrContains(block, parseIp('11.0.0.1')));
    assert.ok(!cidrContains(block, parseIp('::ffff:10.0.0.1')), 'families do not mix');
    const loose = parseCidr('10.0.0.1/4');
    assert.equal(loose.cidr?.text, '0.0.0.0/4');
    assert.equal(loose.nonCanonical, true);
    assert.ok(cidrWithin(parseCidr('10.96.0.0/12').cidr, block));
    assert.ok(!cidrWithin(block, parseCidr('10.96.0.0/12').cidr));
    assert.ok(cidrContains(parseCidr('2001:db8::/32').cidr, parseIp('2001:db8:1::5')));
    assert.ok(cidrContains(parseCidr('0.0.0.0/0').cidr, parseIp('8.8.8.8')));
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'x/8', '10.0.0.0/-1', '::/129'])
        assert.ok(parseCidr(bad).problem, bad);
});
//# sourceMappingURL=address.test.js.map