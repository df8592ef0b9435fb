'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open } = require('./harness');

const URI = 'DPP:V:2;C:81/1;M:020000000101;I:SN=4711;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;';

// flow scripts the onboarding: the states "progress" returns, one per poll.
function backend({ states = [ 'running', 'configured', 'connected' ], failWith, preauth = [] } = {}) {
	let n = 0;
	return (method, p) => {
		switch (method) {
		case 'preauth_list': return { entries: preauth };
		case 'preauth_add': preauth.push({ id: 'p' + (preauth.length + 1), name: p.name, segment: p.segment, uri_hash: 'abc', added_by: 'user', added_at: '2026-11-30T09:00:00Z' }); return preauth[preauth.length - 1];
		case 'preauth_remove': preauth.splice(preauth.findIndex((e) => e.id === p.id), 1); return { removed: p.id };
		case 'onboard': return { id: 'r1', state: 'queued', step: '' };
		case 'progress': {
			const s = states[Math.min(n++, states.length - 1)];
			return s === 'failed'
				? { id: 'r1', state: 'failed', error: failWith || 'The device did not answer.', hint: 'Bring the device closer to the router.' }
				: { id: 'r1', state: s, device_id: s === 'connected' ? 'd9' : '' };
		}
		case 'cancel': return { cancelled: p.id };
		}
		return { __ubus: 3 };
	};
}

function btn(t, action) {
	return t.document.querySelector(`button[data-action="${action}"]`);
}

test('a pasted DPP URI is onboarded with name and segment, then progress until connected', async () => {
	const t = await open('add', { backend: backend() });
	assert.equal(t.document.querySelector('#trustjoin-segment').value, 'iot', 'the default segment is preselected');
	assert.deepEqual(Array.from(t.document.querySelector('#trustjoin-segment').options).map((o) => o.value), [ 'trusted', 'iot', 'guest' ]);
	t.document.querySelector('#trustjoin-name').value = 'Doorbell';
	t.document.querySelector('#trustjoin-segment').value = 'guest';
	t.document.querySelector('#trustjoin-uri').value = '  ' + URI + '\n';
	await t.click(btn(t, 'add-uri'));
	assert.deepEqual(t.callsOf('onboard'), [ { method: 'qr', uri: URI, code: '', identifier: '', name: 'Doorbell', segment: 'guest' } ]);
	const progress = () => t.document.querySelector('#trustjoin-progress [data-state]');
	assert.equal(progress().getAttribute('data-state'), 'queued');
	assert.ok(t.luci.polls.some((p) => p.interval === 1), 'progress is polled every second');

	await t.tick();
	assert.deepEqual(t.callsOf('progress'), [ { id: 'r1' } ]);
	assert.match(progress().textContent, /Talking to the device/);
	await t.tick();
	assert.match(progress().textContent, /has its credential/);
	await t.tick();
	assert.equal(progress().getAttribute('data-state'), 'connected');
	assert.match(progress().textContent, /Done: the device is connected\..*“guest” segment/);
	assert.equal(t.luci.polls.length, 0, 'polling stops once the device is connected');
	t.close();
});

test('a failure says why and what to try', async () => {
	const t = await open('add', { backend: backend({ states: [ 'running', 'failed' ], failWith: 'The device did not answer within 120 seconds.' }) });
	t.document.querySelector('#trustjoin-uri').value = URI;
	await t.click(btn(t, 'add-uri'));
	await t.tick();
	await t.tick();
	const box = t.document.querySelector('#trustjoin-progress [data-state]');
	assert.equal(box.getAttribute('data-state'), 'failed');
	assert.match(box.textContent, /could not be added/);
	assert.match(box.textContent, /did not answer within 120 seconds/);
	assert.match(box.textContent, /Bring the device closer/);
	assert.match(box.textContent, /What to try/);
	assert.equal(t.luci.polls.length, 0);
	t.close();
});

test('a refused request (error reply) is a failure, not a hang', async () => {
	const b = backend();
	const t = await open('add', { backend: (m, p) => m === 'onboard' ? { error: 'no access point with Wi-Fi Easy Connect (DPP)' } : b(m, p) });
	t.document.querySelector('#trustjoin-uri').value = URI;
	await t.click(btn(t, 'add-uri'));
	const box = t.document.querySelector('#trustjoin-progress [data-state]');
	assert.equal(box.getAttribute('data-state'), 'failed');
	assert.match(box.textContent, /no access point with Wi-Fi Easy Connect/);
	assert.equal(t.luci.polls.length, 0);
	t.close();
});

test('text that is not a DPP URI is refused in the page', async () => {
	const t = await open('add', { backend: backend() });
	for (const bad of [ 'WIFI:S:home;T:WPA;P:secret;;', 'DPP:C:81/1;;', 'DPP:K:abc;' ]) {
		t.document.querySelector('#trustjoin-uri').value = bad;
		await t.click(btn(t, 'add-uri'));
	}
	assert.deepEqual(t.callsOf('onboard'), []);
	assert.equal(t.luci.notifications.length, 3);
	assert.match(t.luci.notifications[0].text, /not a Wi-Fi Easy Connect/);
	t.close();
});

test('a PKEX code is sent with its identifier and cleared from the page', async () => {
	const t = await open('add', { backend: backend() });
	t.document.querySelector('#trustjoin-code').value = 'abc';
	await t.click(btn(t, 'add-code'));
	assert.deepEqual(t.callsOf('onboard'), [], 'a too short code is refused in the page');
	t.document.querySelector('#trustjoin-code').value = ' 4c7-2k9-x1 ';
	t.document.querySelector('#trustjoin-identifier').value = 'thermostat';
	await t.click(btn(t, 'add-code'));
	assert.deepEqual(t.callsOf('onboard'), [ { method: 'pkex', uri: '', code: '4c7-2k9-x1', identifier: 'thermostat', name: '', segment: 'iot' } ]);
	assert.equal(t.document.querySelector('#trustjoin-code').value, '');
	assert.doesNotMatch(t.text(), /4c7-2k9-x1/);
	t.close();
});

test('cancel stops polling and calls cancel', async () => {
	const t = await open('add', { backend: backend({ states: [ 'running' ] }) });
	t.document.querySelector('#trustjoin-uri').value = URI;
	await t.click(btn(t, 'add-uri'));
	await t.tick();
	await t.click(btn(t, 'cancel'));
	assert.deepEqual(t.callsOf('cancel'), [ { id: 'r1' } ]);
	assert.equal(t.luci.polls.length, 0);
	assert.match(t.document.querySelector('#trustjoin-progress').textContent, /Nothing was added/);
	t.close();
});

test('over plain HTTP there is no live camera, only the photo; over HTTPS both', async () => {
	let t = await open('add', { backend: backend() });
	assert.equal(btn(t, 'camera'), null);
	const photo = t.document.querySelector('#trustjoin-photo');
	assert.equal(photo.getAttribute('type'), 'file');
	assert.equal(photo.getAttribute('accept'), 'image/*');
	assert.equal(photo.getAttribute('capture'), 'environment');
	assert.match(t.text(), /only when this page is opened over HTTPS/);
	t.close();

	t = await open('add', {
		backend: backend(),
		setup: (w) => {
			Object.defineProperty(w, 'isSecureContext', { value: true });
			Object.defineProperty(w.navigator, 'mediaDevices', { value: { getUserMedia: () => Promise.reject(new Error('NotAllowedError')) } });
		}
	});
	assert.ok(btn(t, 'camera'));
	assert.ok(t.document.querySelector('#trustjoin-photo'));
	await t.click(btn(t, 'camera'));
	assert.match(t.luci.notifications[0].text, /camera could not be started \(NotAllowedError\)\. Take a photo/);
	t.close();
});

test('use my phone shows the router-made QR code and the link, and revokes it when done', async () => {
	const b = backend();
	const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';
	const t = await open('add', {
		backend: (m, p) => m === 'phone_start'
			? { id: 'ph1', url: 'http://192.168.1.1:8099/p/tok3n', qr: png, expires_at: '2026-11-30T10:10:00Z' }
			: m === 'phone_revoke' ? { revoked: p.id } : b(m, p)
	});
	await t.click(btn(t, 'phone'));
	assert.deepEqual(t.callsOf('phone_start'), [ {} ]);
	const m = t.modal();
	assert.equal(m.querySelector('img').getAttribute('src'), png);
	assert.match(m.textContent, /192\.168\.1\.1:8099\/p\/tok3n/);
	await t.click(m.querySelector('button[data-action="phone-done"]'));
	assert.deepEqual(t.callsOf('phone_revoke'), [ { id: 'ph1' } ]);
	assert.equal(t.modal(), null);
	t.close();
});

test('a QR image that is not a data URL from the router is not shown', async () => {
	const b = backend();
	const t = await open('add', {
		backend: (m, p) => m === 'phone_start' ? { id: 'ph1', url: 'http://192.168.1.1:8099/p/x', qr: 'https://evil.example/track.png' } : b(m, p)
	});
	await t.click(btn(t, 'phone'));
	assert.equal(t.modal().querySelector('img'), null);
	t.close();
});

test('a daemon without the phone methods gets a plain answer, not an error dump', async () => {
	const t = await open('add', { backend: backend() }); // phone_start: ubus "Method not found"
	await t.click(btn(t, 'phone'));
	assert.deepEqual(t.callsOf('phone_start'), [ {} ]);
	assert.equal(t.modal(), null);
	assert.equal(t.luci.notifications.length, 1);
	assert.match(t.luci.notifications[0].text, /cannot use a phone yet/);
	assert.doesNotMatch(t.luci.notifications[0].text, /ubus code/);
	t.close();
});

test('remembered devices: add for later, list, forget after confirming', async () => {
	const preauth = [ { id: 'p1', name: 'Garage sensor', segment: 'iot', uri_hash: 'ff', added_by: 'user', added_at: '2026-11-29T09:00:00Z' } ];
	const t = await open('add', { backend: backend({ preauth }) });
	assert.deepEqual(t.callsOf('preauth_list'), [ {} ]);
	assert.match(t.document.querySelector('#trustjoin-preauth').textContent, /Garage sensor/);

	t.document.querySelector('#trustjoin-uri').value = URI;
	t.document.querySelector('#trustjoin-name').value = 'Porch light';
	await t.click(btn(t, 'preauth-add'));
	assert.deepEqual(t.callsOf('preauth_add'), [ { uri: URI, segment: 'iot', name: 'Porch light' } ]);
	assert.deepEqual(t.callsOf('onboard'), []);
	assert.match(t.document.querySelector('#trustjoin-preauth').textContent, /Porch light/);
	assert.doesNotMatch(t.document.querySelector('#trustjoin-preauth').textContent, /DPP:/, 'the URI itself is not listed');

	await t.click(t.document.querySelector('tr[data-entry="p1"] button[data-action="forget"]'));
	assert.deepEqual(t.callsOf('preauth_remove'), []);
	await t.click(t.modal().querySelector('button[data-action="confirm"]'));
	assert.deepEqual(t.callsOf('preauth_remove'), [ { id: 'p1' } ]);
	assert.equal(t.document.querySelector('tr[data-entry="p1"]'), null);
	t.close();
});

test('one busy moment does not end the progress; three lost answers do; one request at a time', async () => {
	const b = backend({ states: [ 'running', 'connected' ] });
	let failing = 0;
	const t = await open('add', { backend: (m, p) => (m === 'progress' && failing-- > 0) ? { __ubus: 7 } : b(m, p) });
	t.document.querySelector('#trustjoin-uri').value = URI;
	await t.click(btn(t, 'add-uri'));
	await t.click(btn(t, 'add-uri'));
	assert.equal(t.callsOf('onboard').length, 1, 'a second request waits for the first');
	assert.match(t.luci.notifications[0].text, /being added/);
	failing = 1;
	await t.tick();
	assert.equal(t.document.querySelector('#trustjoin-progress [data-state]').getAttribute('data-state'), 'queued', 'one timeout changes nothing');
	failing = 3;
	await t.tick();
	await t.tick();
	await t.tick();
	const box = t.document.querySelector('#trustjoin-progress [data-state]');
	assert.equal(box.getAttribute('data-state'), 'failed');
	assert.match(box.textContent, /Lost track of the request: .*Request timeout/);
	assert.equal(t.luci.polls.length, 0);
	t.close();
});
