// The views in a real browser: Debian's Chromium, driven by playwright-core,
// loads harness.html (the LuCI stand-in and one real view) from a small
// local server that also serves luci-app/htdocs, so the vendored jsQR is
// loaded the way LuCI would load it. Covered here, because jsdom cannot:
// decoding a photo of a real QR code in the page (canvas + jsQR), the live
// camera path (Chromium's fake camera playing a QR code) in a secure
// context, and its absence over plain HTTP. Screenshots go to a temporary
// directory, or to screenshots/ with LUCI_SCREENSHOTS=1.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const QRCode = require('qrcode');
const { root } = require('./harness');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`;

const URI = 'DPP:V:2;C:81/1;M:020000000101;I:SN=4711;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;';
const shotDir = process.env.LUCI_SCREENSHOTS ? path.join(__dirname, 'screenshots') : fs.mkdtempSync(path.join(os.tmpdir(), 'luci-shots-'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luci-browser-'));

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };
const files = {
	'/harness.html': path.join(__dirname, 'standin/harness.html'),
	'/standin/luci.js': path.join(__dirname, 'standin/luci.js'),
	'/standin/luci.css': path.join(__dirname, 'standin/luci.css')
};

function serve() {
	const htdocs = path.join(root, 'luci-app/htdocs');
	const server = http.createServer((req, res) => {
		const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
		let f = files[p];
		if (!f && p.startsWith('/luci-static/') && !p.includes('..'))
			f = path.join(htdocs, p);
		if (!f || !fs.existsSync(f)) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'Content-Type': types[path.extname(f)] || 'application/octet-stream' });
		fs.createReadStream(f).pipe(res);
	});
	return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

// y4m writes a Y4M video of the QR code for Chromium's fake camera.
function y4m(text, file) {
	const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
	const n = qr.modules.size, quiet = 4, scale = 6, size = (n + 2 * quiet) * scale;
	const W = 640, H = 480, ox = (W - size) >> 1, oy = (H - size) >> 1;
	const Y = Buffer.alloc(W * H, 235);
	for (let y = 0; y < size; y++)
		for (let x = 0; x < size; x++) {
			const mx = Math.floor(x / scale) - quiet, my = Math.floor(y / scale) - quiet;
			if (mx >= 0 && my >= 0 && mx < n && my < n && qr.modules.get(my, mx))
				Y[(oy + y) * W + ox + x] = 16;
		}
	const UV = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
	const frame = Buffer.concat([ Buffer.from('FRAME\n'), Y, UV ]);
	fs.writeFileSync(file, Buffer.concat([ Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), frame, frame ]));
}

let server, base, browser, chromium;

test.before(async () => {
	if (skip)
		return;
	({ chromium } = require('playwright-core'));
	server = await serve();
	base = server.address().port;
	const video = path.join(tmp, 'qr.y4m');
	y4m(URI, video);
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: [
			'--no-sandbox',
			'--disable-background-networking',
			'--disable-component-update',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			'--use-file-for-fake-video-capture=' + video,
			// router.test stands for http://192.168.1.1: not a secure context.
			'--host-resolver-rules=MAP router.test 127.0.0.1'
		]
	});
});

test.after(async () => {
	if (browser)
		await browser.close();
	if (server)
		server.close();
	fs.rmSync(tmp, { recursive: true, force: true });
});

// page opens one view; answers are scripted per method and every call is
// recorded.
async function page(view, { host = '127.0.0.1', viewport = { width: 1100, height: 900 }, answer }) {
	const ctx = await browser.newContext({ viewport });
	const p = await ctx.newPage();
	const calls = [];
	const errors = [];
	p.on('pageerror', (e) => errors.push(e.message));
	await p.exposeFunction('__tjBackend', (object, method, params) => {
		calls.push({ method, params });
		return answer(method, params);
	});
	await p.goto(`http://${host}:${base}/harness.html?view=${view}`);
	await p.waitForFunction(() => window.__loaded === true || window.__loadError);
	const loadError = await p.evaluate(() => window.__loadError || null);
	assert.equal(loadError, null);
	return { p, ctx, calls, errors, callsOf: (m) => calls.filter((c) => c.method === m).map((c) => c.params) };
}

function addBackend() {
	let n = 0;
	return (method, p) => {
		switch (method) {
		case 'preauth_list': return { entries: [] };
		case 'onboard': return { id: 'r1', state: 'queued', step: '' };
		case 'progress': return [ { id: 'r1', state: 'running' }, { id: 'r1', state: 'connected', device_id: 'd9' } ][Math.min(n++, 1)];
		}
		return { __ubus: 3 };
	};
}

test('over plain HTTP: no live camera; a photo of the QR code is decoded in the page and onboarded', { skip }, async () => {
	const png = path.join(tmp, 'label.png');
	await QRCode.toFile(png, URI, { width: 900, margin: 4 });
	const { p, ctx, callsOf, errors } = await page('add', { host: 'router.test', viewport: { width: 390, height: 844 }, answer: addBackend() });
	assert.equal(await p.evaluate(() => window.isSecureContext), false);
	assert.equal(await p.locator('button[data-action="camera"]').count(), 0, 'no camera button without a secure context');
	assert.equal(await p.evaluate(() => typeof window.jsQR), 'undefined', 'jsQR is loaded only when needed');

	await p.locator('#trustjoin-name').fill('Doorbell');
	await p.locator('#trustjoin-photo').setInputFiles(png);
	await p.waitForFunction(() => document.querySelector('#trustjoin-progress [data-state]'));
	assert.deepEqual(callsOf('onboard'), [ { method: 'qr', uri: URI, code: '', identifier: '', name: 'Doorbell', segment: 'iot' } ]);
	assert.equal(await p.evaluate(() => typeof window.jsQR), 'function', 'the vendored jsQR was loaded from luci-static');

	await p.evaluate(() => window.__luci.tick());
	await p.evaluate(() => window.__luci.tick());
	await p.waitForSelector('#trustjoin-progress [data-state="connected"]');
	assert.match(await p.locator('#trustjoin-progress').innerText(), /Done: the device is connected/);
	await p.locator('#trustjoin-progress').scrollIntoViewIfNeeded();
	await p.screenshot({ path: path.join(shotDir, 'add-phone-connected.png'), fullPage: true });
	assert.deepEqual(errors, []);
	await ctx.close();
});

test('a photo without a QR code says what to do and calls nothing', { skip }, async () => {
	const png = path.join(tmp, 'blank.png');
	// A 1x1 grey PNG.
	fs.writeFileSync(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==', 'base64'));
	const { p, ctx, callsOf } = await page('add', { host: 'router.test', answer: addBackend() });
	await p.locator('#trustjoin-photo').setInputFiles(png);
	await p.waitForFunction(() => /No QR code found/.test(document.querySelector('.trustjoin-photo-status').textContent));
	assert.deepEqual(callsOf('onboard'), []);
	await ctx.close();
});

test('in a secure context the live camera reads the QR code', { skip }, async () => {
	const { p, ctx, callsOf, errors } = await page('add', { answer: addBackend() });
	assert.equal(await p.evaluate(() => window.isSecureContext), true);
	await p.locator('button[data-action="camera"]').click();
	await p.waitForFunction(() => document.querySelector('#trustjoin-progress [data-state]'), null, { timeout: 20000 });
	assert.deepEqual(callsOf('onboard').map((c) => c.uri), [ URI ]);
	assert.equal(await p.evaluate(() => document.querySelector('video').srcObject), null, 'the camera is stopped once read');
	assert.deepEqual(errors, []);
	await ctx.close();
});

test('devices and status render in Chromium (screenshots)', { skip }, async () => {
	const devices = {
		devices: [
			{ id: 'd1', name: 'Kitchen speaker', segment: 'iot', state: 'active', connected: true, macs: [], mud: { status: 'enforced' }, warnings: [], quarantined: false },
			{ id: 'd2', name: 'Old camera', segment: 'quarantine', state: 'active', connected: false, last_seen: '2026-11-30T10:00:00Z', macs: [], mud: { status: 'fetch-failed', detail: 'HTTP 404' }, warnings: [ 'Tried to reach 203.0.113.9, which its profile does not allow' ], quarantined: true }
		]
	};
	let { p, ctx, errors } = await page('devices', { answer: (m) => m === 'devices' ? devices : { __ubus: 3 } });
	assert.equal(await p.locator('#trustjoin-devices tbody tr').count(), 2);
	await p.locator('tr[data-device="d1"] button[data-action="remove"]').click();
	assert.match(await p.locator('#modal_overlay .modal').innerText(), /Remove Kitchen speaker\?/);
	await p.screenshot({ path: path.join(shotDir, 'devices-remove-confirm.png') });
	assert.deepEqual(errors, []);
	await ctx.close();

	({ p, ctx, errors } = await page('status', {
		answer: (m) => m === 'status' ? {
			version: '0.2.0-r1', ready: true, config: { loaded_at: '2026-11-30T08:00:00Z', rejected: '' },
			radios: [
				{ ifname: 'phy0-ap0', ssid: 'Home', freq: 2412, dpp: true, dpp_version: 2 },
				{ ifname: 'phy1-ap0', ssid: 'Home-5G', freq: 5180, dpp: false, problem: 'hostapd on phy1-ap0 has no DPP', fix: '' }
			],
			counters: { onboarded: 7, connected: 5, quarantined: 1, onboarding_failures: 2, mud_violations: 13 }
		} : { __ubus: 3 }
	}));
	assert.match(await p.locator('#trustjoin-radios').innerText(), /Missing/);
	await p.screenshot({ path: path.join(shotDir, 'status.png'), fullPage: true });
	assert.deepEqual(errors, []);
	await ctx.close();
});

// The MUD actions in a real browser: its own URL parser and url input
// decide what the page refuses.
test('Devices: approving a MUD file and setting a MUD URL in Chromium', { skip }, async () => {
	const d = { id: 'd3', name: 'Garage sensor', segment: 'iot', state: 'active', connected: true, macs: [], warnings: [], quarantined: false,
		mud: { url: 'https://sensors.example.com/garage.json', status: 'pending-approval', detail: '<b>unsigned</b>; it will not change what the device may reach until you approve this file' } };
	const { p, ctx, errors, callsOf } = await page('devices', {
		answer: (m) => m === 'devices' ? { devices: [ d ] } : (m === 'device' || m === 'mud_approve' || m === 'mud_set') ? d : { __ubus: 3 }
	});
	assert.equal(await p.locator('tr[data-device="d3"] [data-mud-detail]').innerText(), d.mud.detail);
	await p.locator('tr[data-device="d3"] button[data-action="mud-approve"]').click();
	const modal = p.locator('#modal_overlay .modal');
	assert.match(await modal.innerText(), /applies this exact file/);
	await modal.locator('button', { hasText: 'Cancel' }).click();
	await p.locator('tr[data-device="d3"] button[data-action="mud-approve"]').click();
	await modal.locator('button[data-action="confirm"]').click();
	await p.waitForFunction(() => !document.body.classList.contains('modal-overlay-active'));
	assert.deepEqual(callsOf('mud_approve'), [ { id: 'd3' } ]);

	await p.locator('tr[data-device="d3"] a').click();
	await modal.locator('button[data-action="mud-set"]').click();
	await modal.locator('input').fill('http://sensors.example.com/garage.json');
	await modal.locator('button[data-action="confirm"]').click();
	assert.match(await modal.locator('[data-problem]').innerText(), /must start with https:\/\//);
	await modal.locator('input').fill('https://sensors.example.com/garage-v2.json');
	await modal.locator('button[data-action="confirm"]').click();
	await p.waitForFunction(() => !document.body.classList.contains('modal-overlay-active'));
	assert.deepEqual(callsOf('mud_set'), [ { id: 'd3', url: 'https://sensors.example.com/garage-v2.json' } ]);
	assert.equal(await p.locator('b').count(), 0, 'the detail stayed text');
	assert.deepEqual(errors, []);
	await ctx.close();
});
