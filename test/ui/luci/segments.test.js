'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open } = require('./harness');

function structure(m) {
	return m.sections.map((s) => ({
		kind: s.kind,
		type: s.sectiontype,
		sid: s.sid,
		options: s.options.map((o) => [ o.option, o.kind ].concat(o.datatype ? [ o.datatype ] : []))
	}));
}

test('the form covers the trustjoin config: segments, controllers, adding devices, MUD, phone page', async () => {
	const t = await open('segments');
	assert.deepEqual(t.calls(), [], 'the form reads UCI only, no ubus call');
	assert.equal(t.luci.forms.length, 1);
	const m = t.luci.forms[0];
	assert.equal(m.config, 'trustjoin');
	assert.deepEqual(JSON.parse(JSON.stringify(structure(m))), [
		{ kind: 'TypedSection', type: 'segment', options: [
			[ 'vlan', 'Value', 'range(1,4094)' ], [ 'internet', 'Flag' ], [ 'reach', 'DynamicList' ],
			[ 'isolate', 'Flag' ], [ 'quarantine', 'Flag' ], [ 'interface', 'DynamicList' ], [ 'bridge', 'Value' ],
			[ 'uplink', 'Value' ] ] },
		{ kind: 'TypedSection', type: 'controller', options: [
			[ 'address', 'DynamicList', 'ipaddr' ], [ 'mud_url', 'DynamicList' ], [ 'class', 'DynamicList' ] ] },
		{ kind: 'NamedSection', type: 'onboarding', sid: 'onboarding', options: [
			[ 'default_segment', 'ListValue' ], [ 'legacy_passphrase', 'Flag' ] ] },
		{ kind: 'NamedSection', type: 'mud', sid: 'mud', options: [
			[ 'signature_policy', 'ListValue' ], [ 'trust_anchor', 'DynamicList', 'file' ] ] },
		{ kind: 'NamedSection', type: 'web', sid: 'web', options: [
			[ 'enabled', 'Flag' ], [ 'listen', 'DynamicList', 'ipaddrport(1)' ] ] }
	]);
	const seg = m.sections[0];
	assert.equal(seg.addremove, true);
	assert.equal(seg.anonymous, false);
	t.close();
});

test('it shows the values in /etc/config/trustjoin', async () => {
	const t = await open('segments');
	const field = (sid, opt) => t.document.querySelector(`[name="cbid.trustjoin.${sid}.${opt}"]`);
	for (const [ sid, vlan ] of [ [ 'trusted', '10' ], [ 'iot', '20' ], [ 'guest', '30' ], [ 'quarantine', '99' ] ])
		assert.equal(field(sid, 'vlan').value, vlan);
	assert.equal(field('quarantine', 'internet').checked, false);
	assert.equal(field('trusted', 'internet').checked, true);
	assert.deepEqual(Array.from(field('trusted', 'reach').querySelectorAll('li')).map((l) => l.textContent), [ 'iot', 'guest' ]);
	assert.equal(field('onboarding', 'default_segment').value, 'iot');
	assert.deepEqual(Array.from(field('onboarding', 'default_segment').options).map((o) => o.value), [ 'trusted', 'iot', 'guest', 'quarantine' ]);
	assert.equal(field('mud', 'signature_policy').value, 'approve');
	assert.deepEqual(Array.from(field('mud', 'signature_policy').options).map((o) => o.value), [ 'require', 'approve', 'allow' ]);
	assert.equal(field('onboarding', 'legacy_passphrase').checked, false);
	assert.match(t.text(), /less safe/);
	t.close();
});
