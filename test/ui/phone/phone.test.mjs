// The phone pages in a real browser: Debian's Chromium driven by
// playwright-core, against the daemon run.sh started (with a fake hostapd).
// Each "phone" is a browser of its own with a fresh profile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through run.sh`);
  return v;
};
const bin = env('TJ_BIN'), config = env('TJ_CONFIG'), work = env('TJ_WORK'), helper = env('TJ_HELPER');
const shots = env('TJ_SCREENSHOTS');
const base = 'http://192.168.1.1:8099';

const cli = (...args) => JSON.parse(execFileSync(bin, [...args, '--json', '--config', config], { encoding: 'utf8' }));
const mint = () => ({ ...cli('phone'), mintedAt: Date.now() });

const phones = [];
const problems = [];

// phone opens a browser as on a phone, with a fresh user-data-dir.
async function phone(name, extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tj-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', ...extraArgs],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'en-GB',
  });
  phones.push({ ctx, dir });
  const page = ctx.pages()[0] || await ctx.newPage();
  watch(page, name);
  return { ctx, page };
}

// watch records what must never happen: the CSP blocking something the
// page needs, or a script error.
function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: script error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push(`${name}: ${m.text()}`);
  });
}

const shot = (page, name) => page.screenshot({ path: join(shots, name), fullPage: true });
const title = (page) => page.locator('h1').innerText();

let expiring, a, b;
let deviceURI;

before(async () => {
  // Minted first, opened last: by then its minute is over.
  expiring = mint();
  a = await phone('phone A');
  b = await phone('phone B');
  deviceURI = execFileSync(helper, ['uri'], { encoding: 'utf8' }).trim();
  execFileSync(helper, ['photo', join(work, 'device.png'), deviceURI]);
  execFileSync(helper, ['photo', join(work, 'not-dpp.png'), 'https://example.com/manual']);
});

after(async () => {
  for (const p of phones) {
    await p.ctx.close();
    rmSync(p.dir, { recursive: true, force: true });
  }
});

test('a fresh link opens the page on the first phone, and only there', async () => {
  const link = mint();
  assert.match(link.url, /^http:\/\/192\.168\.1\.1:8099\/p\/[A-Za-z0-9_-]{22,}$/);
  assert.match(link.qr, /^data:image\/png;base64,/);

  const resp = await a.page.goto(link.url);
  assert.equal(resp.status(), 200);
  assert.equal(a.page.url(), base + '/', 'the token must leave the address bar');
  assert.equal(await title(a.page), 'Add a device to your Wi-Fi');
  const cookie = (await a.ctx.cookies()).find((c) => c.name === 'tj_phone');
  assert.ok(cookie, 'no session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  // Plain http:// on the LAN is not a secure context: the photo is the
  // way, the live camera button stays hidden.
  assert.equal(await a.page.evaluate(() => window.isSecureContext), false);
  assert.equal(await a.page.locator('#camera-start').isVisible(), false);
  assert.equal(await a.page.locator('#photo-label').isVisible(), true);
  assert.equal(await a.page.locator('#photo').getAttribute('accept'), 'image/*');
  assert.equal(await a.page.locator('#photo').getAttribute('capture'), 'environment');
  const html = await a.page.content();
  assert.ok(!html.includes(link.url.split('/p/')[1]), 'the token is in the page');
  await shot(a.page, '01-start.png');

  // Another phone (the wrong browser) gets a clear refusal.
  const other = await b.page.goto(link.url);
  assert.equal(other.status(), 410);
  assert.equal(await title(b.page), 'This link has already been used');
  assert.match(await b.page.locator('#try').innerText(), /Use my phone/);
  await shot(b.page, '02-used-on-another-phone.png');
  const direct = await b.page.goto(base + '/');
  assert.equal(direct.status(), 403);
  assert.equal(await title(b.page), "Scan the router's code first");

  // The first phone opening it again is told so and may carry on.
  const again = await a.ctx.newPage();
  watch(again, 'phone A, second tab');
  assert.equal((await again.goto(link.url)).status(), 410);
  assert.equal(await title(again), 'You already opened this link');
  await shot(again, '03-reopened-on-same-phone.png');
  await again.click('#continue');
  await again.waitForURL(base + '/');
  assert.equal(await title(again), 'Add a device to your Wi-Fi');
  await again.close();
});

test('a photo of some other QR code is explained', async () => {
  await a.page.setInputFiles('#photo', join(work, 'not-dpp.png'));
  await a.page.waitForFunction(() => document.getElementById('scan-status').textContent.includes('not the device'));
  assert.match(await a.page.locator('#scan-status').innerText(), /not the device's Wi-Fi Easy Connect code/);
  assert.equal(await a.page.locator('#progress').isVisible(), false);
  await shot(a.page, '04-not-a-device-code.png');
});

test("a photo of the device's QR code onboards it, with progress until connected", async () => {
  await a.page.fill('#name', 'Kitchen camera');
  await a.page.setInputFiles('#photo', join(work, 'device.png'));
  const t = a.page.locator('#progress-title');
  await t.waitFor({ state: 'visible' });
  await a.page.waitForFunction(() => /Talking to your device|Almost there/.test(document.getElementById('progress-title').textContent));
  await shot(a.page, '05-progress.png');
  await a.page.waitForFunction(() => document.getElementById('progress').dataset.state === 'connected', null, { timeout: 30000 });
  assert.equal(await t.innerText(), 'Done! Your device is connected');
  assert.equal(await a.page.locator('#again').isVisible(), true);
  await shot(a.page, '06-connected.png');

  // The daemon took the code from the phone to hostapd ...
  const hostapd = readFileSync(env('TJ_HOSTAPD_LOG'), 'utf8');
  assert.ok(hostapd.includes(`DPP_QR_CODE ${deviceURI}`), `hostapd never got the device's code:\n${hostapd}`);
  assert.match(hostapd, /DPP_AUTH_INIT peer=1 /);
  // ... and the device is registered under the name typed on the phone.
  const { devices } = cli('devices');
  const d = devices.find((d) => d.name === 'Kitchen camera');
  assert.ok(d, `no device called Kitchen camera: ${JSON.stringify(devices)}`);
  assert.equal(d.state, 'connected');
});

test('a wrong PKEX code fails in plain language, with what to try', async () => {
  await a.page.click('#again');
  await a.page.click('#other summary');
  await a.page.fill('#pkex-code', 'wrong-code');
  await a.page.click('#pkex-submit');
  await a.page.waitForFunction(() => document.getElementById('progress').dataset.state === 'failed', null, { timeout: 30000 });
  assert.equal(await a.page.locator('#progress-title').innerText(), 'That did not work');
  assert.equal(await a.page.locator('#progress-detail').innerText(), 'The code did not match.');
  assert.match(await a.page.locator('#progress-hint').innerText(), /^What to try: Check the code printed on the device/);
  await shot(a.page, '07-wrong-code.png');
});

test('a link previewer (HEAD) does not use the link up', async () => {
  const link = mint();
  for (let i = 0; i < 2; i++) {
    const r = await fetch(link.url, { method: 'HEAD', redirect: 'manual' });
    assert.equal(r.status, 200, 'HEAD of a fresh link');
    assert.equal(r.headers.get('set-cookie'), null, 'HEAD got a session');
  }
  const d = await phone('phone D');
  const resp = await d.page.goto(link.url);
  assert.equal(resp.status(), 200);
  assert.equal(await title(d.page), 'Add a device to your Wi-Fi');
});

test('a pairing code, identifier or name carrying more than itself is refused, and nothing reaches hostapd', async () => {
  const e = await phone('phone E');
  await e.page.goto(mint().url);
  const before = readFileSync(env('TJ_HOSTAPD_LOG'), 'utf8').length;
  // Typed on the page: the page says what is wrong and sends nothing.
  await e.page.click('#other summary');
  await e.page.fill('#pkex-code', 'abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80 identifier=evil x');
  await e.page.click('#pkex-submit');
  await e.page.waitForFunction(() => /pairing code must be/.test(document.getElementById('scan-status').textContent));
  assert.match(await e.page.locator('#scan-status').innerText(), /^The pairing code must be 6 to 64 letters, digits or punctuation marks, without spaces/);
  assert.equal(await e.page.locator('#progress').isVisible(), false);
  await shot(e.page, '13-code-with-spaces.png');
  await e.page.fill('#pkex-code', 'abcdef');
  await e.page.fill('#pkex-id', 'plug code=x');
  await e.page.click('#pkex-submit');
  await e.page.waitForFunction(() => /identifier must be one word/.test(document.getElementById('scan-status').textContent));
  // Sent past the page, as a script on the phone could: the router
  // refuses them as well, a NUL and a forged table row included.
  const sent = await e.page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const post = (body) => fetch('/api/onboard', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, error: (await r.json()).error }));
    return [
      await post({ method: 'pkex', code: 'abcdef\u0000 init=1' }),
      await post({ method: 'pkex', code: 'abcdef init=1 identifier=evil x' }),
      await post({ method: 'qr', uri: 'DPP:K:MDk=;;', name: 'cam\nd-9  iot  connected' }),
    ];
  });
  assert.deepEqual(sent.map((r) => r.status), [400, 400, 400]);
  assert.match(sent[0].error, /^The pairing code must be/);
  assert.match(sent[2].error, /^The name holds a control character \(U\+000A\)/);
  const after = readFileSync(env('TJ_HOSTAPD_LOG'), 'utf8').slice(before);
  assert.ok(!/DPP_PKEX_ADD|DPP_BOOTSTRAP_GEN|DPP_QR_CODE/.test(after), `hostapd was asked:\n${after}`);
  assert.ok(!readFileSync(env('TJ_DAEMON_LOG'), 'utf8').includes('init=1'), 'the hostile code reached the log');
});

test('the less safe path shows a password of its own once, as text and a Wi-Fi QR code', async () => {
  await a.page.click('#again');
  await a.page.fill('#name', 'Old printer');
  // "Other ways" is still open from the PKEX code.
  if (!(await a.page.locator('#other').evaluate((d) => d.open))) await a.page.click('#other summary');
  assert.match(await a.page.locator('#legacy-start').innerText(), /This is less safe:/);
  await a.page.click('#legacy-submit');
  await a.page.locator('#legacy').waitFor({ state: 'visible' });
  const pass = await a.page.locator('#legacy-pass').innerText();
  assert.match(pass, /^[A-Za-z0-9]{24}$/);
  assert.equal(await a.page.locator('#legacy-ssid').innerText(), 'Home');
  // The QR code on the phone is the Wi-Fi code for exactly this password
  // (read back with the page's own decoder).
  const wifi = await a.page.evaluate(async () => {
    const img = document.getElementById('legacy-qr');
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return window.jsQR(ctx.getImageData(0, 0, c.width, c.height).data, c.width, c.height).data;
  });
  assert.equal(wifi, `WIFI:T:WPA;S:Home;P:${pass};;`);
  // hostapd's PSK file has it, on its own key id and VLAN.
  const psk = readFileSync(join(work, 'state/psk/wlan0.psk'), 'utf8');
  assert.match(psk, new RegExp(`^keyid=d-[0-9a-f]+ vlanid=\\d+ 00:00:00:00:00:00 ${pass}$`, 'm'));
  const { devices } = cli('devices');
  assert.ok(devices.some((d) => d.name === 'Old printer'), 'no device called Old printer');
  await shot(a.page, '10-legacy-password.png');
  await a.page.click('#legacy-done');
  assert.equal(await a.page.locator('#legacy-pass').innerText(), '');
  assert.ok(!(await a.page.content()).includes(pass), 'the password stays in the page after Done');
  // It never reached the daemon's log either.
  assert.ok(!readFileSync(env('TJ_DAEMON_LOG'), 'utf8').includes(pass), 'the password is in the log');
});

test('a device that does not answer can be stopped from the phone', async () => {
  const uri = execFileSync(helper, ['uri', 'silent'], { encoding: 'utf8' }).trim();
  execFileSync(helper, ['photo', join(work, 'silent.png'), uri]);
  await a.page.setInputFiles('#photo', join(work, 'silent.png'));
  await a.page.waitForFunction(() => document.getElementById('progress-title').textContent === 'Talking to your device…');
  assert.equal(await a.page.locator('#stop').isVisible(), true);
  await shot(a.page, '12-waiting-with-stop.png');
  await a.page.click('#stop');
  await a.page.waitForFunction(() => document.getElementById('progress').dataset.state === 'cancelled', null, { timeout: 15000 });
  assert.equal(await a.page.locator('#progress-title').innerText(), 'Stopped');
  assert.match(await a.page.locator('#progress-hint').innerText(), /pairing mode/);
  assert.equal(await a.page.locator('#stop').isVisible(), false);
  assert.match(readFileSync(env('TJ_DAEMON_LOG'), 'utf8'), /onboarding stopped from a phone/);
});

test('a device the household has is refused, and stays in quarantine', async () => {
  // The householder has quarantined the camera the phone added; scanning
  // it again from a phone link must neither lift that nor give it a new
  // credential: a phone link adds new devices only.
  const q = cli('quarantine', 'Kitchen camera');
  assert.equal(q.quarantined, true);
  const before = readFileSync(join(work, 'state/psk/wlan0.psk'), 'utf8');
  await a.page.click('#again');
  await a.page.setInputFiles('#photo', join(work, 'device.png'));
  await a.page.waitForFunction(() => document.getElementById('scan-status').textContent.includes('already on this network'), null, { timeout: 15000 });
  assert.match(await a.page.locator('#scan-status').innerText(), /^Kitchen camera is already on this network; a phone link can only add new devices\./);
  assert.equal(await a.page.locator('#scan-status').getAttribute('class'), 'status bad');
  assert.equal(await a.page.locator('#progress').isVisible(), false);
  await shot(a.page, '14-known-device-refused.png');
  const d = cli('device', 'Kitchen camera');
  assert.equal(d.quarantined, true);
  assert.equal(d.segment, 'quarantine');
  assert.equal(readFileSync(join(work, 'state/psk/wlan0.psk'), 'utf8'), before, 'a refused phone request changed the credentials');
  const hostapd = readFileSync(env('TJ_HOSTAPD_LOG'), 'utf8');
  assert.equal(hostapd.split(`DPP_QR_CODE ${deviceURI}`).length - 1, 1, 'the refused code reached hostapd');
});

test('where the page is a secure context, the live camera scans the code', async () => {
  // A router serving the pages over HTTPS, as far as Chromium can be told
  // so; its camera is a clip of the device's QR code.
  const uri = execFileSync(helper, ['uri'], { encoding: 'utf8' }).trim();
  const clip = join(work, 'camera.y4m');
  execFileSync(helper, ['video', clip, uri]);
  const c = await phone('phone C', ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`,
    '--use-fake-ui-for-media-stream', `--unsafely-treat-insecure-origin-as-secure=${base}`]);
  await c.ctx.grantPermissions(['camera'], { origin: base });
  await c.page.goto(mint().url);
  assert.equal(await c.page.evaluate(() => window.isSecureContext), true);
  assert.equal(await c.page.locator('#camera-start').isVisible(), true);
  await shot(c.page, '11-secure-context-with-camera.png');
  await c.page.fill('#name', 'Hall sensor');
  await c.page.click('#camera-start');
  await c.page.waitForFunction(() => document.getElementById('progress').dataset.state === 'connected', null, { timeout: 30000 });
  const hostapd = readFileSync(env('TJ_HOSTAPD_LOG'), 'utf8');
  assert.ok(hostapd.includes(`DPP_QR_CODE ${uri}`), "hostapd never got the code the camera saw");
  assert.ok(cli('devices').devices.some((d) => d.name === 'Hall sensor' && d.state === 'connected'), 'Hall sensor is not connected');
  // The camera is off again once the code is read.
  assert.equal(await c.page.evaluate(() => document.getElementById('video').srcObject), null);
  assert.equal(await c.page.locator('#camera').isVisible(), false);
});

test('a cancelled link does not open', async () => {
  const link = mint();
  execFileSync(bin, ['phone', '--config', config, 'revoke', link.id]);
  assert.equal((await b.page.goto(link.url)).status(), 410);
  assert.equal(await title(b.page), 'This link was cancelled');
  await shot(b.page, '08-cancelled.png');
});

test('an expired link does not open', async () => {
  const wait = expiring.mintedAt + 62000 - Date.now();
  if (wait > 0) await sleep(wait);
  const resp = await b.page.goto(expiring.url);
  assert.equal(resp.status(), 410);
  assert.equal(await title(b.page), 'This link has expired');
  await shot(b.page, '09-expired.png');
});

test('nothing was blocked by the CSP and no script failed', () => {
  assert.deepEqual(problems, []);
});

test('no secret in the daemon log', () => {
  const log = readFileSync(env('TJ_DAEMON_LOG'), 'utf8');
  assert.ok(!log.includes(expiring.url.split('/p/')[1]), 'a link token is in the log');
  assert.ok(!log.includes(deviceURI), "the device's code is in the log");
});
