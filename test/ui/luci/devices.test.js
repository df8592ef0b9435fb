'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open } = require('./harness');

function devices() {
	return [
		{
			id: 'd1', name: 'Kitchen speaker', segment: 'iot', state: 'active', connected: true,
			macs: [ '02:00:00:00:01:01' ], mud: { url: 'https://example.com/speaker.json', status: 'enforced', detail: '' },
			warnings: [], quarantined: false
		},
		{
			id: 'd2', name: '', segment: 'quarantine', state: 'active', connected: false, last_seen: '2026-11-30T10:00:00Z',
			macs: [], mud: { url: '', status: 'fetch-failed', detail: 'HTTP 404' },
			warnings: [ 'Tried to reach 203.0.113.9, which its profile does not allow' ], quarantined: true
		}
	];
}

// backend keeps a small registry so actions change what the next
// "devices" call returns, as the daemon would.
function backend(list = devices()) {
	return (method, p) => {
		const find = () => list.find((d) => d.id === p.id);
		switch (method) {
		case 'devices': return { devices: list };
		case 'device': return find() ? Object.assign({ credential: { key_id: 'k-7', created_at: '2026-11-29T08:00:00Z' } }, find()) : { error: 'not found: no device ' + p.id };
		case 'rename': find().name = p.name; return find();
		case 'move': find().segment = p.segment; return find();
		case 'quarantine': Object.assign(find(), { quarantined: true, segment: 'quarantine' }); return find();
		case 'release': Object.assign(find(), { quarantined: false, segment: 'iot' }); return find();
		case 'rotate': return find();
		case 'remove': list.splice(list.indexOf(find()), 1); return { removed: p.id };
		}
		return { __ubus: 3 };
	};
}

function row(t, id) {
	return t.document.querySelector(`tr[data-device="${id}"]`);
}

function button(t, id, action) {
	return row(t, id).querySelector(`button[data-action="${action}"]`);
}

test('lists every device with segment, state, connection, MUD status and warnings', async () => {
	const t = await open('devices', { backend: backend() });
	assert.deepEqual(t.calls()[0], { method: 'devices', params: {} });
	const rows = t.document.querySelectorAll('#trustjoin-devices tbody tr');
	assert.equal(rows.length, 2);
	const cells = (r) => Array.from(r.querySelectorAll('td')).map((c) => c.textContent.trim());
	const r1 = cells(row(t, 'd1'));
	assert.deepEqual(r1.slice(0, 5), [ 'Kitchen speaker', 'iot', 'active', 'Connected now', 'Profile enforced' ]);
	const r2 = cells(row(t, 'd2'));
	assert.equal(r2[0], 'd2', 'a device without a name is shown by its id');
	assert.equal(r2[2], 'Quarantined');
	assert.match(r2[3], /^Last seen /);
	assert.equal(r2[4], 'Profile could not be fetchedHTTP 404', 'the status, then why');
	assert.match(r2[5], /203\.0\.113\.9/);
	// A quarantined device offers release, the other quarantine.
	assert.ok(button(t, 'd2', 'release'));
	assert.equal(button(t, 'd2', 'quarantine'), null);
	assert.ok(button(t, 'd1', 'quarantine'));
	t.close();
});

test('an empty registry says how to add a device', async () => {
	const t = await open('devices', { backend: backend([]) });
	assert.match(t.text(), /No devices yet/);
	t.close();
});

test('remove asks first; cancel calls nothing, confirm calls remove with the id', async () => {
	const t = await open('devices', { backend: backend() });
	await t.click(button(t, 'd1', 'remove'));
	const m = t.modal();
	assert.ok(m, 'a confirmation dialog is shown');
	assert.match(m.textContent, /Remove Kitchen speaker\?/);
	assert.deepEqual(t.callsOf('remove'), [], 'nothing removed before confirming');

	await t.click(Array.from(m.querySelectorAll('button')).find((b) => b.textContent === 'Cancel'));
	assert.equal(t.modal(), null);
	assert.deepEqual(t.callsOf('remove'), []);

	await t.click(button(t, 'd1', 'remove'));
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('remove'), [ { id: 'd1' } ]);
	assert.equal(t.modal(), null);
	assert.equal(row(t, 'd1'), null, 'the table is refreshed without the device');
	t.close();
});

test('quarantine and rotate confirm; release does not', async () => {
	const t = await open('devices', { backend: backend() });
	await t.click(button(t, 'd1', 'quarantine'));
	assert.match(t.modal().textContent, /Quarantine Kitchen speaker\?/);
	assert.deepEqual(t.callsOf('quarantine'), []);
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('quarantine'), [ { id: 'd1' } ]);
	assert.ok(button(t, 'd1', 'release'), 'after quarantine the row offers release');

	await t.click(button(t, 'd2', 'release'));
	assert.deepEqual(t.callsOf('release'), [ { id: 'd2' } ]);

	await t.click(button(t, 'd1', 'rotate'));
	assert.match(t.modal().textContent, /new credential/);
	assert.deepEqual(t.callsOf('rotate'), []);
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('rotate'), [ { id: 'd1' } ]);
	t.close();
});

test('rename sends the new name; move offers the configured segments', async () => {
	const t = await open('devices', { backend: backend() });
	await t.click(button(t, 'd1', 'rename'));
	t.modal().querySelector('input').value = '  Living room speaker ';
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('rename'), [ { id: 'd1', name: 'Living room speaker' } ]);
	assert.match(row(t, 'd1').textContent, /Living room speaker/);

	await t.click(button(t, 'd1', 'move'));
	const sel = t.modal().querySelector('select');
	assert.deepEqual(Array.from(sel.options).map((o) => o.value), [ 'trusted', 'iot', 'guest' ], 'not the quarantine segment: Quarantine does that');
	assert.equal(sel.value, 'iot', 'the current segment is preselected');
	sel.value = 'trusted';
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('move'), [ { id: 'd1', segment: 'trusted' } ]);
	t.close();
});

test('an error reply is shown, not swallowed', async () => {
	const b = backend();
	const t = await open('devices', { backend: (m, p) => m === 'remove' ? { error: 'the device is being onboarded; try again in a minute' } : b(m, p) });
	await t.click(button(t, 'd1', 'remove'));
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.equal(t.luci.notifications.length, 1);
	assert.match(t.luci.notifications[0].text, /try again in a minute/);
	assert.ok(row(t, 'd1'), 'the device is still listed');
	t.close();
});

test('polling refreshes the table and reports a daemon that stopped answering', async () => {
	const list = devices();
	let down = false;
	const b = backend(list);
	const t = await open('devices', { backend: (m, p) => down ? { error: 'trustjoin is not running (connect: no such file or directory)' } : b(m, p) });
	assert.equal(t.luci.polls.length, 1);
	assert.equal(t.luci.polls[0].interval, 5);
	list[1].connected = true;
	await t.tick();
	assert.match(row(t, 'd2').textContent, /Connected now/);
	down = true;
	await t.tick();
	assert.match(t.text(), /Could not load the devices: trustjoin is not running/);
	t.close();
});

test('details show addresses, profile and credential id, never a secret', async () => {
	const t = await open('devices', { backend: backend() });
	await t.click(row(t, 'd1').querySelector('a'));
	assert.deepEqual(t.callsOf('device'), [ { id: 'd1' } ]);
	const text = t.modal().textContent;
	assert.match(text, /02:00:00:00:01:01/);
	assert.match(text, /speaker\.json/);
	assert.match(text, /k-7/);
	assert.doesNotMatch(text, /passphrase|psk/i);
	t.close();
});

test('a hostile device name stays text, in the table and in dialog titles', async () => {
	const evil = '<img src=x onerror="window.pwned=1">';
	const list = devices();
	list[0].name = evil;
	list[0].warnings = [ evil ];
	const t = await open('devices', { backend: backend(list) });
	assert.equal(t.document.querySelectorAll('img').length, 0);
	assert.match(row(t, 'd1').textContent, /<img src=x/);
	await t.click(button(t, 'd1', 'remove'));
	assert.equal(t.document.querySelectorAll('img').length, 0);
	assert.match(t.modal().querySelector('h4').textContent, /Remove <img src=x/);
	t.close();
});

// pending is a device whose MUD file waits for the householder's approval.
function pending(detail = 'the MUD file carries no signature; it will not change what the device may reach until you approve this file') {
	const list = devices();
	list.push({
		id: 'd3', name: 'Garage sensor', segment: 'iot', state: 'active', connected: true, macs: [ '02:00:00:00:03:03' ],
		mud: { url: 'https://sensors.example.com/garage.json', status: 'pending-approval', detail }, warnings: [], quarantined: false
	});
	return list;
}

// mudBackend answers mud_set and mud_approve as the daemon does: a URL
// starts a fetch, an approval enforces the waiting file.
function mudBackend(list) {
	const b = backend(list);
	return (method, p) => {
		const d = list.find((x) => x.id === p.id);
		switch (method) {
		case 'mud_set': d.mud = { url: p.url, status: 'fetching', detail: 'the MUD file has not been fetched yet' }; return d;
		case 'mud_approve': d.mud = Object.assign({}, d.mud, { status: 'enforced', detail: 'enforced because you approved this exact file' }); return d;
		}
		return b(method, p);
	};
}

function buttonIn(el, label) {
	return Array.from(el.querySelectorAll('button')).find((b) => b.textContent === label);
}

test('only a device whose MUD file waits for approval offers Approve; the detail is shown with the status', async () => {
	const t = await open('devices', { backend: mudBackend(pending()) });
	assert.ok(button(t, 'd3', 'mud-approve'));
	assert.equal(button(t, 'd1', 'mud-approve'), null, 'an enforced profile needs no approval');
	assert.equal(button(t, 'd2', 'mud-approve'), null, 'a file that could not be fetched cannot be approved');
	const mud = row(t, 'd3').querySelector('[data-mud-status]');
	assert.equal(mud.getAttribute('data-mud-status'), 'pending-approval');
	assert.match(mud.textContent, /waiting for your approval/);
	assert.match(mud.querySelector('[data-mud-detail]').textContent, /carries no signature/);
	assert.equal(row(t, 'd2').querySelector('[data-mud-detail]').textContent, 'HTTP 404');
	assert.equal(row(t, 'd1').querySelector('[data-mud-detail]'), null, 'no empty detail line');
	t.close();
});

test('approve explains itself and asks first; cancel calls nothing, confirm calls mud_approve with the id', async () => {
	const t = await open('devices', { backend: mudBackend(pending()) });
	await t.click(button(t, 'd3', 'mud-approve'));
	const m = t.modal();
	assert.ok(m, 'a confirmation dialog is shown');
	const text = m.textContent;
	assert.match(m.querySelector('h4').textContent, /Garage sensor/);
	assert.match(text, /manufacturer’s description of what a device needs/, 'says what a MUD file is');
	assert.match(text, /could not be verified/, 'says what is wrong with it');
	assert.match(text, /applies this exact file/, 'says what approving does');
	assert.match(text, /If the file changes later, it waits for your approval again/, 'says a changed file asks again');
	assert.equal(m.querySelector('[data-mud-url]').textContent, 'https://sensors.example.com/garage.json');
	assert.match(text, /carries no signature/, 'the daemon\'s reason is there too');
	assert.deepEqual(t.callsOf('mud_approve'), [], 'nothing approved before confirming');

	await t.click(buttonIn(m, 'Cancel'));
	assert.equal(t.modal(), null);
	assert.deepEqual(t.callsOf('mud_approve'), []);

	await t.click(button(t, 'd3', 'mud-approve'));
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('mud_approve'), [ { id: 'd3' } ]);
	assert.deepEqual(t.calls().map((c) => c.method).filter((m) => m.startsWith('mud_')), [ 'mud_approve' ], 'nothing else changed');
	assert.equal(t.modal(), null);
	assert.equal(row(t, 'd3').querySelector('[data-mud-status]').getAttribute('data-mud-status'), 'enforced', 'the table is refreshed');
	assert.equal(button(t, 'd3', 'mud-approve'), null);
	t.close();
});

test('a failed approval is shown, and the device still waits', async () => {
	const list = pending(), b = mudBackend(list);
	const t = await open('devices', { backend: (m, p) => m === 'mud_approve' ? { error: 'conflict: Garage sensor has no MUD file waiting for approval (its MUD status is fetching)' } : b(m, p) });
	await t.click(button(t, 'd3', 'mud-approve'));
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.equal(t.luci.notifications.length, 1);
	assert.match(t.luci.notifications[0].text, /no MUD file waiting for approval/);
	assert.ok(button(t, 'd3', 'mud-approve'));
	t.close();
});

test('Set MUD URL in the details sends mud_set with the id and the https URL', async () => {
	const t = await open('devices', { backend: mudBackend(pending()) });
	await t.click(row(t, 'd1').querySelector('a'));
	await t.click(t.modal().querySelector('button[data-action="mud-set"]'));
	const m = t.modal();
	assert.match(m.querySelector('h4').textContent, /Set the MUD URL of Kitchen speaker/);
	const input = m.querySelector('input');
	assert.equal(input.value, 'https://example.com/speaker.json', 'the current URL is filled in');
	assert.deepEqual(t.callsOf('mud_set'), []);

	await t.click(buttonIn(m, 'Cancel'));
	assert.equal(t.modal(), null);
	assert.deepEqual(t.callsOf('mud_set'), [], 'cancel sends nothing');

	await t.click(row(t, 'd1').querySelector('a'));
	await t.click(t.modal().querySelector('button[data-action="mud-set"]'));
	t.modal().querySelector('input').value = '  https://speakers.example.net/mud/v2.json ';
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('mud_set'), [ { id: 'd1', url: 'https://speakers.example.net/mud/v2.json' } ]);
	assert.equal(t.modal(), null);
	const mud = row(t, 'd1').querySelector('[data-mud-status]');
	assert.equal(mud.getAttribute('data-mud-status'), 'fetching', 'the table is refreshed');
	assert.match(mud.textContent, /has not been fetched yet/);
	t.close();
});

test('a MUD URL that is not https is refused in the page, without a call', async () => {
	const t = await open('devices', { backend: mudBackend(pending()) });
	await t.click(row(t, 'd2').querySelector('a'));
	await t.click(t.modal().querySelector('button[data-action="mud-set"]'));
	const m = t.modal();
	assert.equal(m.querySelector('input').value, '', 'no URL yet');
	for (const [ bad, why ] of [
		[ 'http://example.com/camera.json', /must start with https:\/\// ],
		[ 'HTTP://example.com/camera.json', /must start with https:\/\// ],
		[ 'ftp://example.com/camera.json', /must start with https:\/\// ],
		[ 'example.com/camera.json', /must start with https:\/\// ],
		[ 'https://', /not a web address/ ],
		[ 'https://user:secret@example.com/camera.json', /user name or password/ ],
		[ 'https://example.com/' + 'a'.repeat(1024), /longer than 1024/ ],
		[ '   ', /Please enter/ ]
	]) {
		m.querySelector('input').value = bad;
		await t.click(m.querySelector('button[data-action="confirm"]'));
		assert.ok(t.modal(), `${bad}: the dialog stays open`);
		assert.match(m.querySelector('[data-problem]').textContent, why, bad);
	}
	assert.deepEqual(t.callsOf('mud_set'), [], 'nothing was sent');
	assert.equal(t.luci.notifications.length, 0);
	// The same dialog then takes a good one.
	m.querySelector('input').value = 'https://cameras.example.org/old.json';
	await t.click(m.querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('mud_set'), [ { id: 'd2', url: 'https://cameras.example.org/old.json' } ]);
	t.close();
});

test('the MUD detail is shown in the details dialog', async () => {
	const t = await open('devices', { backend: mudBackend(pending()) });
	await t.click(row(t, 'd3').querySelector('a'));
	const m = t.modal();
	assert.match(m.querySelector('[data-mud-status]').textContent, /waiting for your approval/);
	assert.match(m.querySelector('[data-mud-detail]').textContent, /carries no signature/);
	t.close();
});

test('a hostile MUD detail and URL stay text, in the table, the details and the approve dialog', async () => {
	const evil = '<img src=x onerror="window.pwned=1"><b>bold</b>';
	const list = pending(evil);
	list[2].mud.url = 'https://example.com/"><img src=x onerror=alert(1)>.json';
	const t = await open('devices', { backend: mudBackend(list) });
	const noHTML = (where) => {
		assert.equal(t.document.querySelectorAll('img').length, 0, where);
		assert.equal(t.document.querySelectorAll('b').length, 0, where);
		assert.equal(t.window.pwned, undefined, where);
	};
	noHTML('table');
	assert.equal(row(t, 'd3').querySelector('[data-mud-detail]').textContent, evil);
	await t.click(row(t, 'd3').querySelector('a'));
	noHTML('details');
	assert.equal(t.modal().querySelector('[data-mud-detail]').textContent, evil);
	await t.click(button(t, 'd3', 'mud-approve'));
	noHTML('approve dialog');
	assert.match(t.modal().textContent, /<img src=x onerror="window\.pwned=1"><b>bold<\/b>/);
	assert.equal(t.modal().querySelector('[data-mud-url]').textContent, list[2].mud.url);
	t.close();
});
