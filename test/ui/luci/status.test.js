'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { open } = require('./harness');

function status(over = {}) {
	return Object.assign({
		version: '0.1.0-r1',
		ready: true,
		config: { loaded_at: '2026-11-30T08:00:00Z', rejected: '' },
		radios: [
			{ ifname: 'phy0-ap0', ssid: 'Home', freq: 2412, dpp: true, dpp_version: 2, problem: '', fix: '' },
			{ ifname: 'phy1-ap0', ssid: 'Home-5G', freq: 5180, dpp: false, dpp_version: 0,
				problem: 'hostapd on phy1-ap0 has no DPP', fix: 'install a full hostapd variant: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls (or wpad-openssl); OpenWrt 25.12 and later include DPP' }
		],
		counters: { onboarded: 7, connected: 5, quarantined: 1, onboarding_failures: 2, mud_violations: 13 }
	}, over);
}

// openStatus opens the view with this LuCI package stamped as `app`.
function openStatus(reply, app) {
	return open('status', {
		backend: (m) => m === 'status' ? (typeof reply == 'function' ? reply() : reply) : { __ubus: 3 },
		setup: app ? (w) => {
			// The package build stamps APP_VERSION; here the view's class default is overridden before use.
			const orig = w.__luci.loadView;
			w.__luci.loadView = (src) => orig(src.replace(/var APP_VERSION = '[^']*';/, `var APP_VERSION = '${app}';`));
		} : undefined
	});
}

function radioRow(t, ifname) {
	return t.document.querySelector(`#trustjoin-radios tr[data-radio="${ifname}"]`);
}

test('shows DPP per access point, and the fix where it is missing', async () => {
	const t = await openStatus(status(), '0.1.0-r1');
	assert.deepEqual(t.calls(), [ { method: 'status', params: {} }, { method: 'events', params: { since: 0 } } ]);
	assert.match(radioRow(t, 'phy0-ap0').textContent, /Home.*2\.4 GHz.*Yes \(version 2\).*ready/);
	const r1 = radioRow(t, 'phy1-ap0');
	assert.match(r1.textContent, /5 GHz.*Missing/);
	assert.match(r1.querySelector('.trustjoin-fix').textContent, /opkg install wpad-mbedtls/);
	t.close();
});

test('DPP missing without a fix from the daemon still says what to install', async () => {
	const st = status();
	st.radios[1].fix = '';
	const t = await openStatus(st);
	assert.match(radioRow(t, 'phy1-ap0').querySelector('.trustjoin-fix').textContent, /wpad-mbedtls .*wpad-openssl/);
	t.close();
});

test('a hostapd without VLANs is said with the daemon\'s fix; nothing when there is no problem', async () => {
	let t = await openStatus(status({ hostapd: { package: 'wpad-basic-mbedtls',
		problem: 'wpad-basic-mbedtls has no dynamic VLANs (built without CONFIG_FULL_DYNAMIC_VLAN): devices are not put in their segments',
		fix: 'install a full hostapd variant: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls' } }));
	const h = t.document.querySelector('#trustjoin-hostapd');
	assert.ok(h, 'the warning is shown');
	assert.match(h.textContent, /wpad-basic-mbedtls has no dynamic VLANs/);
	assert.match(h.querySelector('.trustjoin-fix').textContent, /opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls/);
	t.close();

	for (const hostapd of [ { package: '', problem: '', fix: '' }, undefined ]) {
		t = await openStatus(status({ hostapd }));
		assert.equal(t.document.querySelector('#trustjoin-hostapd'), null);
		t.close();
	}
});

test('no access point at all is explained', async () => {
	const t = await openStatus(status({ radios: [] }));
	assert.match(t.document.querySelector('#trustjoin-radios').textContent, /No access point found/);
	t.close();
});

test('versions: equal is quiet, different warns, a development build does not', async () => {
	let t = await openStatus(status(), '0.1.0-r1');
	assert.equal(t.document.querySelector('#trustjoin-version-mismatch'), null);
	assert.match(t.document.querySelector('#trustjoin-versions').textContent, /0\.1\.0-r1/);
	t.close();

	t = await openStatus(status({ version: '0.2.0-r1' }), '0.1.0-r1');
	const w = t.document.querySelector('#trustjoin-version-mismatch');
	assert.ok(w, 'a mismatch is warned about');
	assert.match(w.textContent, /\(version 0\.1\.0-r1\) do not match the trustjoin service \(version 0\.2\.0-r1\)/);
	t.close();

	t = await openStatus(status({ version: 'devel' }), '0.1.0-r1');
	assert.equal(t.document.querySelector('#trustjoin-version-mismatch'), null);
	t.close();
});

test('the committed view is unstamped: the package build stamps it', async () => {
	const t = await openStatus(status());
	assert.equal(t.view.appVersion, '0.0.0-devel');
	assert.equal(t.document.querySelector('#trustjoin-version-mismatch'), null);
	t.close();
});

test('a refused configuration is shown with what stays in force', async () => {
	const t = await openStatus(status({
		config: { loaded_at: '2026-11-30T08:00:00Z', rejected: 'segment "iot": vlan 5000 is not between 1 and 4094', rejected_at: '2026-11-30T09:00:00Z' }
	}));
	const c = t.document.querySelector('#trustjoin-config');
	assert.ok(c.classList.contains('warning'));
	assert.match(c.textContent, /was refused/);
	assert.match(c.textContent, /vlan 5000 is not between 1 and 4094/);
	assert.match(c.textContent, /keeps working with the configuration loaded at/);
	t.close();
});

test('counters are listed', async () => {
	const t = await openStatus(status());
	const text = t.document.querySelector('#trustjoin-counters').textContent;
	assert.match(text, /Devices added7/);
	assert.match(text, /Connected now5/);
	assert.match(text, /In quarantine1/);
	assert.match(text, /Failed attempts to add a device2/);
	assert.match(text, /profile13/);
	t.close();
});

test('a daemon that does not answer is said plainly, and polling picks it up again', async () => {
	let reply = { error: 'trustjoin is not running: dial unix /var/run/trustjoin/api.sock: connect: no such file or directory' };
	const t = await openStatus(() => reply);
	assert.match(t.document.querySelector('#trustjoin-down').textContent, /does not answer: trustjoin is not running/);
	assert.equal(t.luci.polls[0].interval, 10);
	reply = status();
	await t.tick();
	assert.equal(t.document.querySelector('#trustjoin-down'), null);
	assert.ok(radioRow(t, 'phy0-ap0'));
	t.close();
});

test('Status → Overview box: counts, and a pointer to what needs doing', async () => {
	let t = await open('status/include/75_trustjoin', { backend: (m) => m === 'status' ? status() : { __ubus: 3 } });
	assert.deepEqual(t.calls(), [ { method: 'status', params: {} } ]);
	assert.equal(t.view.title, 'Trusted devices');
	let text = t.document.querySelector('#view').textContent;
	assert.match(text, /Devices added7/);
	assert.match(text, /In quarantine1/);
	assert.match(text, /Wi-Fi Easy Connect works on 1 of 2 access points\./);
	assert.equal(t.document.querySelector('#view a').getAttribute('href'), '/cgi-bin/luci/admin/network/trustjoin/status');
	t.close();

	const ok = status();
	ok.radios[1].dpp = true;
	t = await open('status/include/75_trustjoin', { backend: (m) => m === 'status' ? ok : { __ubus: 3 } });
	assert.equal(t.document.querySelector('#view .alert-message'), null, 'nothing to do: no warning');
	t.close();

	const basic = Object.assign({}, ok, { hostapd: { package: 'wpad-basic-mbedtls', problem: 'no VLANs', fix: 'install wpad-mbedtls' } });
	t = await open('status/include/75_trustjoin', { backend: (m) => m === 'status' ? basic : { __ubus: 3 } });
	assert.match(t.document.querySelector('#view .alert-message').textContent, /cannot put devices in their segments \(no VLANs\)\. What to do/);
	t.close();

	t = await open('status/include/75_trustjoin', { backend: () => ({ error: 'trustjoin is not running' }) });
	assert.match(t.document.querySelector('#view').textContent, /does not answer/);
	t.close();
});
