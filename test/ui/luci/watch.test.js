// What the pages show of the watch after onboarding, with the LuCI
// stand-in: the latest security events on Status; the devices nobody added,
// with their actions; a device's details: what it did lately, why it is in
// quarantine (with Release), when its access expires, the profile learned
// from it (approval may be refused, which is said), what the firewall
// enforces. The real LuCI and daemon: openwrt.test.js.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open } = require('./harness');

const cam = {
	id: 'd1', name: 'Camera', segment: 'quarantine', state: 'connected', connected: true, macs: [ '02:00:00:00:01:01' ],
	mud: { url: '', status: 'none', detail: '' }, warnings: [], quarantined: true,
	credential: { key_id: 'k-1', created_at: '2026-11-29T08:00:00Z', expires_at: '2026-12-06T08:00:00Z' },
	history: [ { at: '2026-11-30T09:00:00Z', what: 'onboarded' },
		{ at: '2026-11-30T10:00:00Z', what: 'quarantined automatically: tried 12 forbidden destinations within 10m0s: telnet.example:23/tcp, ...' } ]
};

function backend(over = {}) {
	const handled = [];
	const calls = {
		devices: () => ({ devices: [ cam ] }),
		device: () => cam,
		behaviour: () => ({ dropped: 12, opened: 3, entries: [
			{ verdict: 'dropped', proto: 6, address: '203.0.113.9', port: 23, name: 'telnet.example', count: 9, first: '2026-11-30T09:59:00Z', last: '2026-11-30T10:00:00Z' },
			{ verdict: 'opened', proto: 17, address: '2001:db8::1', port: 123, count: 3, first: '2026-11-30T09:00:00Z', last: '2026-11-30T09:30:00Z' }
		] }),
		mud_learn: () => ({ learning: false, profile: { device: 'd1', started: '2026-11-27T08:00:00Z', until: '2026-11-30T08:00:00Z', destinations: [] },
			describe: [ 'time.example on port 123 (udp)', 'cloud.example on port 443 (tcp)' ], mud: {} }),
		mud_learn_approve: () => ({ error: 'not available: approving a learned profile is not wired yet' }),
		mud_show: () => ({ device: cam, in_firewall: true, rules: 'table inet trustjoin {\n\tchain dev_d1 {\n\t\tcounter packets 12 bytes 720 drop\n\t}\n}', counters: {} }),
		release: () => Object.assign(cam, { quarantined: false }),
		unknown: () => ({ unknown: [
			{ mac: '02:00:00:00:00:77', kind: 'shared-password', iface: 'wlan0', seen_by: [ 'nl80211' ], hostname: 'printer', addresses: [ '192.168.1.77' ],
				first_seen: '2026-11-30T08:00:00Z', last_seen: '2026-11-30T10:00:00Z' },
			{ mac: '02:00:00:00:00:88', kind: 'wrong-segment', iface: 'br-guest', segment: 'guest', device: 'd9', name: 'Plug', expected_segment: 'iot',
				seen_by: [ 'fdb' ], first_seen: '2026-11-30T08:00:00Z', last_seen: '2026-11-30T10:00:00Z' }
		], handled: handled.slice() }),
		unknown_handle: (p) => {
			const i = handled.findIndex((h) => h.mac === p.mac);
			if (i >= 0)
				handled.splice(i, 1);
			if (p.action)
				handled.push({ mac: p.mac, action: p.action, at: '2026-11-30T10:01:00Z' });
			return { mac: p.mac, action: p.action };
		},
		status: () => ({ version: '1.0.0', ready: true, config: {}, radios: [], counters: { security_events: 2, unknown_devices: 1, needs_reonboarding: 1 } }),
		events: () => ({ events: [
			{ seq: 1, at: '2026-11-30T09:00:00Z', kind: 'unknown-device', mac: '02:00:00:00:00:77', message: 'A device nobody added is on the shared password: 02:00:00:00:00:77' },
			{ seq: 2, at: '2026-11-30T10:00:00Z', kind: 'auto-quarantine', device: 'd1', name: 'Camera', message: 'Camera was quarantined automatically' }
		], counts: { total: 2 } })
	};
	Object.assign(calls, over);
	return (m, p) => calls[m] ? calls[m](p) : { __ubus: 3 };
}

test('Status lists the latest security events, newest first, and their counters', async () => {
	const t = await open('status', { backend: backend() });
	const rows = t.document.querySelectorAll('#trustjoin-events tr[data-event]');
	assert.deepEqual(Array.from(rows).map((r) => r.dataset.kind), [ 'auto-quarantine', 'unknown-device' ]);
	assert.match(rows[0].textContent, /Put in quarantine.*Camera was quarantined automatically/);
	assert.match(t.document.querySelector('#trustjoin-counters').textContent,
		/Security events since the router started\s*2.*nobody added\s*1.*scanned again\s*1/);
	t.close();

	// The daemon not watching: the rest of the page stands, the events say why.
	const u = await open('status', { backend: backend({ events: () => ({ error: 'devices are not watched' }) }) });
	assert.match(u.document.querySelector('#trustjoin-events').textContent, /cannot be shown: devices are not watched/);
	assert.ok(u.document.querySelector('#trustjoin-counters'));
	u.close();
});

test('Devices nobody added: add it properly, move to guest, block (after asking), undo', async () => {
	const t = await open('devices', { backend: backend() });
	const row = (mac) => t.document.querySelector(`#trustjoin-unknown tr[data-mac="${mac}"]`);
	assert.match(row('02:00:00:00:00:77').textContent, /printer · 02:00:00:00:00:77 · 192\.168\.1\.77.*shared Wi-Fi password.*main network \(wlan0\)/);
	assert.match(row('02:00:00:00:00:77').querySelector('[data-action="unknown-add"]').getAttribute('href'), /admin\/network\/trustjoin\/add$/);
	assert.match(row('02:00:00:00:00:88').textContent, /Plug, which belongs in “iot”.*Segment “guest”/);
	assert.equal(row('02:00:00:00:00:88').querySelector('[data-action="unknown-add"]'), null, 'a household device on the wrong segment is not added again');

	await t.click(row('02:00:00:00:00:77').querySelector('[data-action="unknown-guest"]'));
	assert.deepEqual(t.callsOf('unknown_handle'), [ { mac: '02:00:00:00:00:77', action: 'guest' } ]);
	assert.match(row('02:00:00:00:00:77').textContent, /Internet only \(guest\)/);
	await t.click(row('02:00:00:00:00:77').querySelector('[data-action="unknown-undo"]'));
	await t.click(row('02:00:00:00:00:88').querySelector('[data-action="unknown-block"]'));
	assert.equal(t.callsOf('unknown_handle').length, 2, 'blocking asks first');
	await t.click(t.modal().querySelector('[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('unknown_handle').slice(1), [ { mac: '02:00:00:00:00:77', action: '' }, { mac: '02:00:00:00:00:88', action: 'block' } ]);
	assert.match(row('02:00:00:00:00:88').textContent, /Blocked/);
	assert.equal(t.luci.notifications.length, 0);
	t.close();
});

test('A device\'s details: why it is in quarantine with Release, expiry, behaviour, learned profile, firewall rules', async () => {
	const t = await open('devices', { backend: backend() });
	assert.match(t.document.querySelector('tr[data-device="d1"]').textContent, /Quarantined.*Access until/);
	await t.click(t.document.querySelector('tr[data-device="d1"] a'));
	const m = t.modal();
	assert.match(m.querySelector('#trustjoin-quarantine [data-reason]').textContent, /quarantined automatically: tried 12 forbidden destinations/);
	assert.ok(m.querySelector('[data-expires="2026-12-06T08:00:00Z"]'));
	const b = m.querySelector('#trustjoin-behaviour');
	assert.match(b.textContent, /12 blocked, 3 connections it opened/);
	assert.match(b.querySelector('tr[data-verdict="dropped"]').textContent, /Blocked\s*telnet\.example:23\/tcp\s*9/);
	assert.match(b.querySelector('tr[data-verdict="opened"]').textContent, /\[2001:db8::1\]:123\/udp/);
	assert.match(m.querySelector('#trustjoin-learned').textContent, /time\.example on port 123 \(udp\).*cloud\.example/);
	assert.match(m.querySelector('#trustjoin-enforced pre').textContent, /counter packets 12 bytes 720 drop/);

	// Approval the daemon does not offer: said in the dialog, which stays.
	await t.click(m.querySelector('[data-action="learn-approve"]'));
	assert.deepEqual(t.callsOf('mud_learn_approve'), [ { id: 'd1' } ]);
	assert.match(t.modal().querySelector('#trustjoin-learned [data-problem]').textContent, /not approved: not available/);

	await t.click(t.modal().querySelector('#trustjoin-quarantine [data-action="release"]'));
	assert.deepEqual(t.callsOf('release'), [ { id: 'd1' } ]);
	assert.equal(t.modal(), null, 'released: the dialog closes');
	t.close();
});

test('A part of the details that fails says so; the rest is shown', async () => {
	const t = await open('devices', { backend: backend({ behaviour: () => ({ error: 'devices are not watched' }), mud_learn: () => ({ error: 'no learned profile for Camera' }) }) });
	await t.click(t.document.querySelector('tr[data-device="d1"] a'));
	assert.match(t.modal().querySelector('#trustjoin-behaviour').textContent, /Not available: devices are not watched/);
	assert.match(t.modal().querySelector('#trustjoin-learned').textContent, /No profile: no learned profile for Camera/);
	assert.equal(t.modal().querySelector('[data-action="learn-approve"]'), null);
	t.close();
});

test('The Overview box points to Devices for devices nobody added or waiting for a new scan', async () => {
	const t = await open('status/include/75_trustjoin', { backend: backend() });
	const notes = Array.from(t.document.querySelectorAll('[data-devices-note]'));
	assert.deepEqual(notes.map((n) => n.textContent), [ 'Devices on your network nobody added: 1. What to do', 'Devices waiting to be scanned again: 1. What to do' ]);
	assert.match(notes[0].querySelector('a').getAttribute('href'), /admin\/network\/trustjoin\/devices$/);
	t.close();
});

test('A device whose credential expired or was replaced says it needs a new scan', async () => {
	const old = Object.assign({}, cam, { id: 'd3', name: 'Doorbell', state: 'needs-reonboarding', quarantined: false, connected: false,
		credential: { key_id: 'k-3', created_at: '2026-11-29T08:00:00Z', expires_at: '2026-11-30T08:00:00Z' } });
	const t = await open('devices', { backend: backend({ devices: () => ({ devices: [ old ] }), device: () => old }) });
	const row = t.document.querySelector('tr[data-device="d3"]');
	assert.match(row.textContent, /Needs a new scan/);
	assert.equal(row.querySelector('[data-expires]'), null, 'no "access until" for access that is over');
	await t.click(row.querySelector('a'));
	assert.match(t.modal().textContent, /Access expires\s*Expired or replaced: scan the device’s code again/);
	assert.equal(t.modal().querySelector('#trustjoin-quarantine'), null);
	t.close();
});
