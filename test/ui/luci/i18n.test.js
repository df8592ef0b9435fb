// Every text a person sees on the four pages went through _() (so it can be
// translated) or is data from the router. Checked on the rendered pages:
// each text node must be a string _() was given, such a string with its
// %s/%d/%h filled in, or a value from a backend reply or the UCI config.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open, defaultUCI } = require('./harness');

const replies = {
	status: {
		version: '0.1.0-r1', ready: false,
		config: { loaded_at: '2026-11-30T08:00:00Z', rejected: 'segment "iot": vlan 5000 is not between 1 and 4094', rejected_at: '2026-11-30T09:00:00Z' },
		radios: [
			{ ifname: 'phy0-ap0', ssid: 'Home', freq: 2412, dpp: true, dpp_version: 2, problem: '', fix: '' },
			{ ifname: 'phy1-ap0', ssid: 'Home-5G', freq: 5180, dpp: false, dpp_version: 0, problem: 'no DPP', fix: '' }
		],
		hostapd: { package: 'wpad-basic-mbedtls', problem: 'wpad-basic-mbedtls has no dynamic VLANs', fix: 'install a full hostapd variant' },
		counters: { onboarded: 7, connected: 5, quarantined: 1, onboarding_failures: 2, mud_violations: 13 }
	},
	devices: {
		devices: [
			{ id: 'd1', name: 'Kitchen speaker', segment: 'iot', state: 'active', connected: true, macs: [], mud: { url: 'https://example.com/speaker.json', status: 'pending-approval', detail: 'unsigned' }, warnings: [], quarantined: false },
			{ id: 'd2', name: '', segment: 'quarantine', state: 'active', connected: false, last_seen: '2026-11-30T10:00:00Z', macs: [], mud: { status: 'none' }, warnings: [ 'Tried to reach 203.0.113.9' ], quarantined: true }
		]
	},
	preauth_list: { entries: [ { id: 'p1', name: 'Garage sensor', segment: 'iot', uri_hash: 'ff', added_by: 'user', added_at: '2026-11-29T09:00:00Z' } ] },
	onboard: { id: 'r1', state: 'queued' },
	progress: { id: 'r1', state: 'failed', error: 'The device did not answer.', hint: 'Bring it closer.' },
	events: { events: [ { seq: 1, at: '2026-11-30T09:00:00Z', kind: 'auto-quarantine', device: 'd2', message: 'd2 was quarantined automatically' } ], counts: { total: 1 } },
	unknown: { unknown: [ { mac: '02:00:00:00:00:77', kind: 'shared-password', iface: 'wlan0', addresses: [ '192.168.1.77' ], last_seen: '2026-11-30T10:00:00Z' },
		{ mac: '02:00:00:00:00:88', kind: 'wired', iface: 'lan1', segment: 'iot', last_seen: '2026-11-30T10:00:00Z' } ],
	handled: [ { mac: '02:00:00:00:00:99', action: 'block', at: '2026-11-30T10:00:00Z' } ] },
	behaviour: { dropped: 3, opened: 1, entries: [ { verdict: 'dropped', proto: 6, address: '203.0.113.9', port: 23, count: 3, last: '2026-11-30T10:00:00Z' },
		{ verdict: 'opened', proto: 1, address: '192.0.2.1', port: 8, count: 1, last: '2026-11-30T10:00:00Z' } ] },
	mud_learn: { learning: true, profile: { started: '2026-11-29T09:00:00Z', until: '2026-12-02T09:00:00Z', full: true }, describe: [ 'time.example on port 123' ] },
	mud_show: { in_firewall: false, reason: 'the firewall is off' }
};

// dataStrings: every string and number in v, and the keys of objects
// (UCI section names), with timestamps also as the page shows them.
function dataStrings(v, out = new Set()) {
	if (typeof v === 'string') {
		out.add(v);
		if (/^\d{4}-\d\d-\d\dT/.test(v))
			out.add(new Date(v).toLocaleString());
	}
	else if (typeof v === 'number')
		out.add(String(v));
	else if (v && typeof v === 'object')
		Object.entries(v).forEach(([ k, x ]) => {
			if (!Array.isArray(v))
				out.add(k);
			dataStrings(x, out);
		});
	return out;
}

function patterns(translated) {
	return Object.keys(translated).map((s) => new RegExp('^' + s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%[sdh]/g, '[^]*') + '$'));
}

function check(t) {
	// The app's own version (unstamped here) is data too.
	const data = dataStrings([ replies, defaultUCI(), t.view.appVersion || '' ]);
	const pats = patterns(t.luci.translated);
	const w = t.window, walker = w.document.createTreeWalker(w.document.body, w.NodeFilter.SHOW_TEXT);
	const bad = [];
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const s = n.data.trim();
		if (!/[A-Za-z]/.test(s) || data.has(s) || pats.some((p) => p.test(s)))
			continue;
		bad.push(s);
	}
	return bad;
}

for (const view of [ 'devices', 'add', 'status', 'segments', 'status/include/75_trustjoin' ]) {
	test(`${view}: no untranslated text`, async () => {
		const t = await open(view, { backend: (m) => replies[m] || { __ubus: 3 } });
		if (view === 'devices')
			await t.click(t.document.querySelector('tr[data-device="d1"] button[data-action="remove"]'));
		if (view === 'add') {
			t.document.querySelector('#trustjoin-uri').value = 'DPP:K:abc;;';
			await t.click(t.document.querySelector('button[data-action="add-uri"]'));
			await t.tick();
		}
		assert.ok(Object.keys(t.luci.translated).length > 5, 'the page used _()');
		assert.deepEqual(check(t), []);
		t.close();
	});
}

test('devices: the MUD dialogs have no untranslated text', async () => {
	const backend = (m, p) => m === 'device' ? replies.devices.devices.find((d) => d.id === p.id) : (replies[m] || { __ubus: 3 });
	const t = await open('devices', { backend });
	await t.click(t.document.querySelector('tr[data-device="d1"] button[data-action="mud-approve"]'));
	assert.match(t.modal().textContent, /exact file/);
	assert.deepEqual(check(t), [], 'approve dialog');
	await t.click(t.document.querySelector('tr[data-device="d1"] a'));
	assert.deepEqual(check(t), [], 'details dialog');
	await t.click(t.document.querySelector('tr[data-device="d2"] a'));
	assert.ok(t.modal().querySelector('#trustjoin-quarantine'));
	assert.deepEqual(check(t), [], 'details dialog of a quarantined device');
	await t.click(t.modal().querySelector('button[data-action="mud-set"]'));
	t.modal().querySelector('input').value = 'http://example.com/speaker.json';
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.match(t.modal().textContent, /must start with https/);
	assert.deepEqual(check(t), [], 'set dialog with its complaint');
	t.close();
});

test('the check finds a string that bypasses _()', async () => {
	const t = await open('status', { backend: (m) => replies[m] || { __ubus: 3 } });
	t.document.body.appendChild(t.window.E('p', [ 'Hard-coded English' ]));
	assert.deepEqual(check(t), [ 'Hard-coded English' ]);
	t.close();
});

test('the translation template lists every string of the views and menu', () => {
	const { execFileSync } = require('node:child_process');
	execFileSync(process.execPath, [ require('node:path').join(__dirname, 'i18n-pot.js'), '--check' ], { stdio: 'inherit' });
	const { strings } = require('./i18n-pot');
	const s = strings();
	for (const want of [ 'Trusted devices', 'Add a device', 'Remove %h?', 'Done: the device is connected.' ])
		assert.ok(s.has(want), `${want} is in the template`);
});
