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
	assert.equal(r2[4], 'Profile could not be fetched');
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
