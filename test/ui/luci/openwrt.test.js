// The LuCI app on OpenWrt's real LuCI (router.js): Debian's Chromium,
// driven by playwright-core, logs in through LuCI's own login form and uses
// the pages as a householder would; every call goes through uhttpd's /ubus,
// rpcd's session and ACL checks and the exec plugin (`trustjoin rpcd`) to
// the daemon procd runs. Checked: every trustjoin page renders with no
// console error, Save & Apply reaches the running daemon (or the daemon's
// refusal reaches the Status page), a device is added and managed, a QR
// code is read from a photo and from the camera, the basic hostapd's
// missing VLANs are said with the fix, a user without trustjoin's ACL is
// refused and one with read access alone can change nothing. Screenshots
// go to a temporary directory, or to screenshots/ with LUCI_SCREENSHOTS=1.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const router = require('./router');

const skip = router.skipReason();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'luci-openwrt-'));
const shotDir = process.env.LUCI_SCREENSHOTS ? path.join(__dirname, 'screenshots') : path.join(work, 'screenshots');
fs.mkdirSync(shotDir, { recursive: true });

let r, browser, helper, camURI;

test.before(async () => {
	if (skip)
		return;
	r = await router.start(work);
	helper = path.join(work, 'helper');
	// The camera shows a device that never answers (I:silent), so its
	// onboarding stays running until cancelled.
	camURI = execFileSync(helper, [ 'uri', 'silent' ], { encoding: 'utf8' }).trim();
	execFileSync(helper, [ 'video', path.join(work, 'qr.y4m'), camURI ]);
	const { chromium } = require('playwright-core');
	browser = await chromium.launch({
		executablePath: r.chromium,
		headless: true,
		args: [
			'--no-sandbox',
			'--disable-background-networking',
			'--disable-component-update',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			'--use-file-for-fake-video-capture=' + path.join(work, 'qr.y4m')
		]
	});
}, { timeout: 900000 });

test.after(async () => {
	if (browser)
		await browser.close();
	if (r)
		await r.stop();
	if (!process.env.LUCI_KEEP)
		fs.rmSync(work, { recursive: true, force: true });
});

// cgi-io (/cgi-bin/cgi-exec) is not in the root: it is not among the
// source archives. LuCI's Save & Apply asks it (luci-peeraddr) whether the
// change cuts the browser's connection and takes a failure as "no".
const CGI_EXEC = /\/cgi-bin\/cgi-exec\b/;

// login opens a browser context and logs in through LuCI's login form.
// Console errors, uncaught exceptions and failed requests are collected
// for the test to check.
async function login(user, { base = r.url, viewport = { width: 1200, height: 900 } } = {}) {
	const ctx = await browser.newContext({ viewport });
	const p = await ctx.newPage();
	const errors = [];
	p.on('console', (m) => { if (m.type() === 'error' && !CGI_EXEC.test(m.location().url)) errors.push(`console: ${m.text()} (${m.location().url})`) });
	p.on('response', (q) => { if (q.status() >= 400 && q.status() != 403 && !CGI_EXEC.test(q.url())) errors.push(`response: ${q.status()} ${q.request().method()} ${q.url()}`) });
	p.on('pageerror', (e) => errors.push(`page: ${e.message}`));
	// A request cut short by leaving the page (LuCI's poll in flight) is
	// no failure; the apply's confirmation is cut by the reload it asks for.
	p.on('requestfailed', (q) => {
		const why = q.failure() && q.failure().errorText;
		if (why !== 'net::ERR_ABORTED' && !/luci\/admin\/uci\/confirm/.test(q.url()))
			errors.push(`request: ${q.url()} ${why}`);
	});
	await p.goto(base + '/cgi-bin/luci/');
	await p.locator('#luci_username').fill(user);
	await p.locator('#luci_password').fill(r.users[user].password);
	await p.locator('#luci_password').press('Enter');
	await p.waitForSelector('#topmenu, .main-left, header .nav', { timeout: 30000 });
	assert.equal(await p.locator('#luci_password').count(), 0, `${user} is logged in`);
	// LuCI sends its login form as 403 Forbidden, which Chromium logs as
	// a failed resource: what came before the login is not the app's.
	errors.length = 0;
	return { p, ctx, errors };
}

// view opens a LuCI page and waits for its view to finish rendering.
async function view(s, page, marker) {
	await s.p.goto(`${r.url}/cgi-bin/luci/admin/${page}`);
	try {
		await s.p.waitForSelector(marker, { timeout: 30000 });
	}
	catch (e) {
		await shot(s, 'failed-' + page.replace(/\//g, '-'));
		throw new Error(`${page}: ${e.message}\nerrors: ${s.errors.join('\n')}\npage: ${(await s.p.locator('#maincontent, body').first().innerText()).slice(0, 2000)}`);
	}
	await s.p.waitForFunction(() => !document.querySelector('#view > .spinning'));
}

function shot(s, name) {
	return s.p.screenshot({ path: path.join(shotDir, name + '.png'), fullPage: true });
}

async function until(what, fn, ms = 30000) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last)
				return last;
		}
		catch (e) {
			last = e;
		}
		await new Promise((res) => setTimeout(res, 200));
	}
	throw new Error(`${what}: not within ${ms / 1000} s (last: ${last && last.message || last})`);
}

async function daemon() {
	return JSON.parse(await r.sh('trustjoin status --json'));
}

// daemonPid is the daemon's process as procd runs it (pidof would also
// list the rpcd plugin, the same binary, while a page's poll runs it).
async function daemonPid() {
	const pid = (await r.sh(`ubus call service list '{"name":"trustjoin"}' | jsonfilter -e '@.trustjoin.instances.*.pid'`)).trim();
	assert.match(pid, /^\d+$/, 'procd runs one trustjoin daemon');
	return pid;
}

async function devices() {
	return JSON.parse(await r.sh('trustjoin devices --json')).devices;
}

// The Status → Overview box of trustjoin (75_trustjoin.js).
const OVERVIEW = '.cbi-section:has(h3:text-is("Trusted devices"))';

const pages = [
	{ name: 'devices', path: 'network/trustjoin/devices', marker: '#trustjoin-devices' },
	{ name: 'add', path: 'network/trustjoin/add', marker: '#trustjoin-uri' },
	{ name: 'segments', path: 'network/trustjoin/segments', marker: '#cbi-trustjoin' },
	{ name: 'status', path: 'network/trustjoin/status', marker: '#trustjoin-status' },
	{ name: 'overview', path: 'status/overview', marker: OVERVIEW + ' table' }
];

test('root logs in; the menu has the four pages, and each, and the Overview box, renders with no console error', { skip }, async () => {
	const s = await login('root');
	await view(s, 'network/trustjoin', '#trustjoin-devices');
	const tabs = await s.p.locator('ul.tabs li a, ul.cbi-tabmenu li a').allInnerTexts();
	assert.deepEqual(tabs.map((t) => t.trim()), [ 'Devices', 'Add a device', 'Segments & policy', 'Status' ]);
	for (const pg of pages) {
		await view(s, pg.path, pg.marker);
		assert.equal(await s.p.locator('#view .alert-message.error, #maincontent > .alert-message.danger').count(), 0, `${pg.name}: no error box`);
		await shot(s, 'real-' + pg.name);
		assert.deepEqual(s.errors, [], `${pg.name}: no console error`);
	}
	await s.ctx.close();
});

test('Status: the running daemon, its access point, the versions, and the basic hostapd without VLANs with the fix', { skip }, async () => {
	const s = await login('root');
	await view(s, 'network/trustjoin/status', '#trustjoin-radios tr[data-radio="wlan0"]');
	assert.match(await s.p.locator('#trustjoin-radios tr[data-radio="wlan0"]').innerText(), /Home\s+2\.4 GHz\s+Yes \(version 2\)/);
	assert.match(await s.p.locator('#trustjoin-versions').innerText(), new RegExp(`trustjoin service\\s+${r.version.replace(/\./g, '\\.')}\\s+These pages\\s+${r.version.replace(/\./g, '\\.')}`));
	assert.equal(await s.p.locator('#trustjoin-version-mismatch').count(), 0);
	// The root's package database lists OpenWrt's default wpad-basic-mbedtls.
	const h = s.p.locator('#trustjoin-hostapd');
	assert.match(await h.innerText(), /wpad-basic-mbedtls has no dynamic VLANs .*devices are not put in their segments/);
	assert.match(await h.locator('.trustjoin-fix').innerText(), /opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls/);
	await shot(s, 'real-status-basic-hostapd');
	await view(s, 'status/overview', OVERVIEW + ' table');
	assert.match(await s.p.locator(OVERVIEW).innerText(), /cannot put devices in their segments \(no VLANs\)/);

	await r.sh('opkg remove wpad-basic-mbedtls >/dev/null');
	await view(s, 'network/trustjoin/status', '#trustjoin-radios');
	assert.equal(await s.p.locator('#trustjoin-hostapd').count(), 0, 'no warning once the basic variant is gone');
	await view(s, 'status/overview', OVERVIEW + ' table');
	assert.doesNotMatch(await s.p.locator(OVERVIEW).innerText(), /no VLANs/);
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});

test('Add and Devices: a device added by its code reaches the daemon and the radio, is connected, then renamed, given a MUD URL, quarantined, released and removed', { skip }, async () => {
	const uri = execFileSync(helper, [ 'uri' ], { encoding: 'utf8' }).trim();
	const s = await login('root');
	await view(s, 'network/trustjoin/add', '#trustjoin-uri');
	await s.p.locator('#trustjoin-name').fill('Doorbell');
	await s.p.locator('#trustjoin-uri').fill(uri);
	await s.p.locator('button[data-action="add-uri"]').click();
	await s.p.waitForSelector('#trustjoin-progress [data-state="connected"]', { timeout: 60000 });
	await shot(s, 'real-add-connected');
	const d = (await devices()).find((x) => x.name === 'Doorbell');
	assert.ok(d, 'the daemon has the device');
	assert.equal(d.segment, 'iot');
	assert.equal(d.connected, true);

	const row = () => s.p.locator(`#trustjoin-devices tr[data-device="${d.id}"]`);
	const modal = s.p.locator('#modal_overlay .modal');
	await view(s, 'network/trustjoin/devices', `tr[data-device="${d.id}"]`);
	assert.match(await row().innerText(), /Doorbell\s+iot/);

	await row().locator('button[data-action="rename"]').click();
	await modal.locator('input').fill('Front door');
	await modal.locator('button[data-action="confirm"]').click();
	await until('renamed on the page', async () => /Front door/.test(await row().innerText()));
	assert.equal((await devices()).find((x) => x.id === d.id).name, 'Front door');

	await row().locator('a').click();
	await modal.locator('button[data-action="mud-set"]').click();
	await modal.locator('input').fill('https://doorbells.example.com/mud/doorbell.json');
	await modal.locator('button[data-action="confirm"]').click();
	await until('MUD URL recorded', async () => JSON.parse(await r.sh(`trustjoin device ${d.id} --json`)).mud.url === 'https://doorbells.example.com/mud/doorbell.json');

	await row().locator('button[data-action="quarantine"]').click();
	await modal.locator('button[data-action="confirm"]').click();
	await until('quarantined on the page', async () => /Quarantined/.test(await row().innerText()));
	assert.equal((await devices()).find((x) => x.id === d.id).quarantined, true);
	await shot(s, 'real-devices-quarantined');
	await row().locator('button[data-action="release"]').click();
	await until('released on the page', async () => (await row().locator('button[data-action="quarantine"]').count()) === 1);
	assert.equal((await devices()).find((x) => x.id === d.id).quarantined, false);

	await row().locator('button[data-action="remove"]').click();
	assert.match(await modal.innerText(), /Remove Front door\?/);
	await modal.locator('button[data-action="confirm"]').click();
	await until('gone from the page', async () => (await row().count()) === 0);
	assert.equal((await devices()).find((x) => x.id === d.id), undefined, 'the daemon removed it');
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});

test('Add: over plain http://192.168.1.1 no camera; a photo of the QR code is decoded in the page and the device added', { skip }, async () => {
	const uri = execFileSync(helper, [ 'uri' ], { encoding: 'utf8' }).trim();
	const png = path.join(work, 'label.png');
	execFileSync(helper, [ 'photo', png, uri ]);
	const s = await login('root', { viewport: { width: 390, height: 844 } });
	await view(s, 'network/trustjoin/add', '#trustjoin-uri');
	assert.equal(await s.p.evaluate(() => window.isSecureContext), false);
	assert.equal(await s.p.locator('button[data-action="camera"]').count(), 0, 'no camera button without a secure context');
	assert.equal(await s.p.evaluate(() => typeof window.jsQR), 'undefined', 'jsQR is loaded only when needed');
	await s.p.locator('#trustjoin-name').fill('Plug');
	await s.p.locator('#trustjoin-photo').setInputFiles(png);
	await s.p.waitForSelector('#trustjoin-progress [data-state="connected"]', { timeout: 60000 });
	assert.equal(await s.p.evaluate(() => typeof window.jsQR), 'function', 'the vendored jsQR came from luci-static');
	await s.p.locator('#trustjoin-progress').scrollIntoViewIfNeeded();
	await shot(s, 'real-add-phone-connected');
	const d = (await devices()).find((x) => x.name === 'Plug');
	assert.ok(d && d.connected, 'the daemon has the device, connected');
	await r.sh(`trustjoin remove ${d.id} >/dev/null`);

	// A photo without a QR code says what to do and adds nothing.
	const blank = path.join(work, 'blank.png');
	fs.writeFileSync(blank, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64'));
	await view(s, 'network/trustjoin/add', '#trustjoin-uri');
	await s.p.locator('#trustjoin-photo').setInputFiles(blank);
	await s.p.waitForFunction(() => /No QR code found/.test(document.querySelector('.trustjoin-photo-status').textContent));
	assert.equal(await s.p.locator('#trustjoin-progress [data-state]').count(), 0);
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});

test('Add: in a secure context (http://127.0.0.1) the camera reads the QR code; a device that does not answer is cancelled', { skip }, async () => {
	const s = await login('root', { base: 'http://127.0.0.1' });
	await s.p.goto('http://127.0.0.1/cgi-bin/luci/admin/network/trustjoin/add');
	await s.p.waitForSelector('button[data-action="camera"]');
	assert.equal(await s.p.evaluate(() => window.isSecureContext), true);
	await s.p.locator('button[data-action="camera"]').click();
	await s.p.waitForSelector('#trustjoin-progress [data-state] button[data-action="cancel"]', { timeout: 30000 });
	assert.equal(await s.p.evaluate(() => document.querySelector('video') && document.querySelector('video').srcObject), null, 'the camera is stopped once read');
	await s.p.locator('#trustjoin-progress button[data-action="cancel"]').click();
	await s.p.waitForSelector('#trustjoin-progress [data-state="cancelled"]');
	assert.equal((await devices()).length, 0, 'nothing added');
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});

// A device in the router's network that nobody added: a neighbour-table
// entry on the access point's interface (a dummy link here: the radio is
// the fake hostapd's), which the daemon's next search finds.
const STRANGER = '02:00:00:00:00:77';

test('After onboarding: the events on Status; a device nobody added moved to guest, blocked and undone; a device\'s details with its quarantine reason, release, expiry, behaviour, learned profile and firewall rules', { skip }, async () => {
	// Searches every 2 s, and credentials in iot last an hour (so a
	// warning at once: it is less than expiry_warning away).
	await r.sh('uci set trustjoin.watch.scan_interval=2 && uci set trustjoin.iot.lifetime=3600 && uci commit trustjoin && /etc/init.d/trustjoin reload');
	await r.ip('link', 'add', 'wlan0', 'type', 'veth', 'peer', 'name', 'wlan0-peer');
	await r.ip('link', 'set', 'wlan0', 'up');
	await r.ip('link', 'set', 'wlan0-peer', 'up');
	await r.ip('neigh', 'replace', '192.168.1.77', 'lladdr', STRANGER, 'dev', 'wlan0', 'nud', 'reachable');
	await until('the daemon lists the stranger', async () => JSON.parse(await r.sh('trustjoin unknown --json')).unknown.some((u) => u.mac === STRANGER));
	const uri = execFileSync(helper, [ 'uri' ], { encoding: 'utf8' }).trim();
	await r.sh(`trustjoin onboard --qr '${uri}' --name Camera >/dev/null`);
	const d = (await devices()).find((x) => x.name === 'Camera');
	assert.ok(d && d.credential && d.credential.expires_at, 'the camera has a credential that expires');

	const s = await login('root');
	await view(s, 'network/trustjoin/status', '#trustjoin-events tr[data-event]');
	const kinds = await s.p.locator('#trustjoin-events tr[data-event]').evaluateAll((rs) => rs.map((x) => x.dataset.kind));
	assert.ok(kinds.includes('unknown-device') && kinds.includes('credential-expiring'), `events: ${kinds}`);
	assert.match(await s.p.locator('#trustjoin-events').innerText(), /Device nobody added.*02:00:00:00:00:77/s);
	assert.match(await s.p.locator('#trustjoin-counters').innerText(), /Security events since the router started\s+[1-9]/);
	assert.match(await s.p.locator('#trustjoin-counters').innerText(), /Devices on your network nobody added\s+1/);
	await shot(s, 'real-status-events');

	// The stranger: to guest, undone, blocked after asking, undone.
	const modal = s.p.locator('#modal_overlay .modal');
	const row = () => s.p.locator(`#trustjoin-unknown tr[data-mac="${STRANGER}"]`);
	const handled = async () => (JSON.parse(await r.sh('trustjoin unknown --json')).handled || []).find((h) => h.mac === STRANGER);
	await view(s, 'network/trustjoin/devices', `#trustjoin-unknown tr[data-mac="${STRANGER}"]`);
	assert.match(await row().innerText(), /02:00:00:00:00:77 · 192\.168\.1\.77/);
	assert.match(await row().locator('[data-action="unknown-add"]').getAttribute('href'), /\/admin\/network\/trustjoin\/add$/);
	await shot(s, 'real-devices-unknown');
	await row().locator('[data-action="unknown-guest"]').click();
	await until('guest on the page', async () => (await row().locator('[data-handled="guest"]').count()) === 1);
	assert.equal((await handled()).action, 'guest');
	await row().locator('[data-action="unknown-undo"]').click();
	await until('undone on the page', async () => (await row().locator('[data-action="unknown-block"]').count()) === 1);
	assert.equal(await handled(), undefined);
	await row().locator('[data-action="unknown-block"]').click();
	await modal.locator('button[data-action="confirm"]').click();
	await until('blocked on the page', async () => (await row().locator('[data-handled="block"]').count()) === 1);
	assert.equal((await handled()).action, 'block');
	await row().locator('[data-action="unknown-undo"]').click();
	await until('unblocked', async () => (await handled()) === undefined);

	// The camera: until when it has access; quarantined, why, and
	// released from its details.
	const drow = s.p.locator(`#trustjoin-devices tr[data-device="${d.id}"]`);
	assert.match(await drow.innerText(), /Connected\s+Access until/);
	assert.equal(await drow.locator(`[data-expires="${d.credential.expires_at}"]`).count(), 1);
	await r.sh(`trustjoin quarantine ${d.id} >/dev/null`);
	await until('quarantined on the page', async () => (await drow.locator('button[data-action="release"]').count()) === 1);
	await drow.locator('a').click();
	await modal.locator('#trustjoin-enforced').waitFor();
	assert.match(await modal.locator('#trustjoin-quarantine').innerText(), /in quarantine.*Why \(.*\): quarantined/s);
	assert.match(await modal.locator('#trustjoin-behaviour').innerText(), /Since the router started: \d+ blocked|Not available: /);
	assert.match(await modal.locator('#trustjoin-learned').innerText(), /Still learning, until|No profile: /);
	await modal.locator('#trustjoin-enforced summary').click();
	const enforced = JSON.parse(await r.sh(`trustjoin mud show --json ${d.id}`));
	if (enforced.in_firewall)
		assert.match(await modal.locator('#trustjoin-enforced pre').innerText(), /table (inet|bridge) trustjoin/);
	else
		assert.match(await modal.locator('#trustjoin-enforced').innerText(), /holds nothing for this device/);
	await shot(s, 'real-device-details');
	await modal.locator('#trustjoin-quarantine button[data-action="release"]').click();
	await until('released', async () => (await devices()).find((x) => x.id === d.id).quarantined === false);
	await until('released on the page', async () => (await drow.locator('button[data-action="quarantine"]').count()) === 1);

	// Approving a learned profile: the daemon's answer (a profile still
	// being learned is refused) comes back as a message, not a failure.
	const res = await ubus(s, 'trustjoin', 'mud_learn_approve', { id: d.id });
	assert.equal(res.result && res.result[0], 0, JSON.stringify(res));
	assert.equal(typeof (res.result[1].error || res.result[1].id), 'string', JSON.stringify(res));
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
	await r.ip('link', 'del', 'wlan0');
	const pid = await daemonPid();
	await r.sh(`trustjoin remove ${d.id} >/dev/null; uci set trustjoin.iot.lifetime=0 && uci commit trustjoin && /etc/init.d/trustjoin reload`);
	// The reload restarts the daemon's tasks, its API among them.
	await until('the daemon has the lifetime back in force', async () => ((await inForce()).match(/config segment 'iot'[^]*?option lifetime '(\d+)'/) || [])[1] === '0' && (await daemon()).ready);
	assert.equal(await daemonPid(), pid, 'reloaded, not restarted');
});

// The daemon's configuration in force: what it last accepted.
async function inForce() {
	return r.sh('cat /etc/trustjoin/last-good.uci');
}

async function saveApply(s) {
	await s.p.locator('.cbi-page-actions .cbi-button-apply').first().click();
	await s.p.waitForSelector('text=Configuration changes applied.', { timeout: 60000 });
}

test('Segments & policy: Save & Apply reaches the running daemon; a configuration it refuses is said on Status, and the corrected one applies', { skip }, async () => {
	const pid = await daemonPid();
	const before = await daemon();
	assert.doesNotMatch(await inForce(), /signature_policy 'require'/);
	const s = await login('root');
	await view(s, 'network/trustjoin/segments', '#cbi-trustjoin');
	await s.p.locator('[id="widget.cbid.trustjoin.mud.signature_policy"]').selectOption('require');
	await saveApply(s);
	await until('the daemon has the new configuration in force', async () => /signature_policy 'require'/.test(await inForce()));
	const after = await daemon();
	assert.ok(new Date(after.config.loaded_at) > new Date(before.config.loaded_at), 'loaded again');
	assert.equal(after.config.rejected, '');
	assert.equal(await daemonPid(), pid, 'reloaded, not restarted');

	// Two segments on one VLAN: LuCI lets it through, the daemon refuses
	// it and keeps what was in force.
	await view(s, 'network/trustjoin/segments', '#cbi-trustjoin');
	await s.p.locator('[id="widget.cbid.trustjoin.iot.vlan"]').fill('10');
	await saveApply(s);
	await until('the daemon refused it', async () => (await daemon()).config.rejected !== '');
	assert.match(await inForce(), /config segment 'iot'\s+option vlan '20'/);
	await view(s, 'network/trustjoin/status', '#trustjoin-config');
	const c = s.p.locator('#trustjoin-config');
	assert.match(await c.innerText(), /Your last configuration change was refused/);
	assert.match(await c.innerText(), /iot/);
	assert.match(await c.innerText(), /keeps working with the configuration loaded at/);
	await shot(s, 'real-status-refused');

	await view(s, 'network/trustjoin/segments', '#cbi-trustjoin');
	await s.p.locator('[id="widget.cbid.trustjoin.iot.vlan"]').fill('21');
	await saveApply(s);
	await until('the corrected one is in force', async () => /config segment 'iot'\s+option vlan '21'/.test(await inForce()));
	await view(s, 'network/trustjoin/status', '#trustjoin-config');
	assert.match(await s.p.locator('#trustjoin-config').innerText(), /Configuration in force since/);
	assert.equal(await daemonPid(), pid, 'reloaded, not restarted');
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});

// ubus calls a page can make with its session, straight to uhttpd's /ubus.
async function ubus(s, object, method, args) {
	return s.p.evaluate(async ([ object, method, args ]) => {
		const res = await fetch('/ubus', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'call', params: [ L.env.sessionid, object, method, args ] }) });
		return res.json();
	}, [ object, method, args ]);
}

const acl = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../luci-app/root/usr/share/rpcd/acl.d/luci-app-trustjoin.json'), 'utf8'))['luci-app-trustjoin'];

test('a user without trustjoin\'s ACL is refused: no menu entry, no page, no call, no Overview box', { skip }, async () => {
	const s = await login('guest');
	await view(s, 'status/overview', '#view .cbi-section');
	await s.p.waitForFunction(() => document.querySelector('div.includes') == null || document.querySelectorAll('#view .cbi-section:not([style*="none"])').length > 0);
	const links = s.p.locator('a[href*="admin/network/trustjoin"]');
	assert.equal(await links.count(), 0, `no menu entry: ${await links.evaluateAll((as) => as.map((a) => a.parentNode.parentNode.outerHTML.slice(0, 600)))}`);
	assert.equal(await s.p.locator(OVERVIEW + ':visible').count(), 0, 'no trustjoin box on the Overview');
	for (const m of [ ...acl.read.ubus.trustjoin, ...acl.write.ubus.trustjoin ]) {
		const res = await ubus(s, 'trustjoin', m, {});
		assert.equal(res.error && res.error.code, -32002, `${m}: ${JSON.stringify(res)}`);
	}
	// LuCI's dispatcher leaves the pages out of this user's tree: 404 (a
	// bare answer, for which Chromium shows its own error page and goto
	// reports a failure).
	const page = `${r.url}/cgi-bin/luci/admin/network/trustjoin/status`;
	const res = await s.ctx.request.get(page, { maxRedirects: 0 });
	assert.equal(res.status(), 404, `the page is not there for this user: ${res.status()}`);
	await s.p.goto(page).catch(() => {});
	assert.equal(await s.p.locator('#trustjoin-status').count(), 0, 'the page is not shown');
	await shot(s, 'real-guest-refused');
	await s.ctx.close();
});

test('a user with read access alone sees the pages and can change nothing', { skip }, async () => {
	const s = await login('viewer');
	await view(s, 'network/trustjoin/status', '#trustjoin-radios tr[data-radio="wlan0"]');
	await view(s, 'network/trustjoin/segments', '#cbi-trustjoin');
	assert.equal(await s.p.locator('[id="widget.cbid.trustjoin.mud.signature_policy"]').isDisabled(), true, 'the form is read-only');
	for (const m of acl.write.ubus.trustjoin) {
		const res = await ubus(s, 'trustjoin', m, {});
		assert.equal(res.error && res.error.code, -32002, `${m}: ${JSON.stringify(res)}`);
	}
	// root's calls of the same methods go through to the plugin and the
	// daemon, which answer about the missing arguments.
	const root = await login('root');
	await view(root, 'network/trustjoin/status', '#trustjoin-radios');
	for (const m of [ ...acl.read.ubus.trustjoin, ...acl.write.ubus.trustjoin ]) {
		if (m === 'phone_start' || m === 'status' || m === 'devices' || m === 'preauth_list')
			continue;
		const res = await ubus(root, 'trustjoin', m, {});
		assert.ok(Array.isArray(res.result), `${m}: ${JSON.stringify(res)}`);
		assert.notEqual(res.result[0], 3, `${m}: the plugin has the method`);
	}
	await s.ctx.close();
	await root.ctx.close();
});

test('Status says plainly when the daemon has stopped, and again when it is back', { skip }, async () => {
	const s = await login('root');
	await r.sh('/etc/init.d/trustjoin stop');
	await view(s, 'network/trustjoin/status', '#trustjoin-down');
	assert.match(await s.p.locator('#trustjoin-down').innerText(), /does not answer: .*not running/);
	await r.sh('/etc/init.d/trustjoin start');
	await until('back', async () => (await s.p.locator('#trustjoin-radios').count()) === 1, 60000);
	// console errors here would be the page's own: the refused calls are answers
	assert.deepEqual(s.errors, []);
	await s.ctx.close();
});
