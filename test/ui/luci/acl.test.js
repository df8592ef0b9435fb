// The LuCI app's JSON files are valid, and its ACL grants exactly what the
// views use: every ubus method a view declares is granted and exists in
// `trustjoin rpcd list`, every granted method is used and exists, reading
// methods are in "read" and the others in "write".
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { root, viewFiles } = require('./harness');

const app = path.join(root, 'luci-app');
const aclFile = path.join(app, 'root/usr/share/rpcd/acl.d/luci-app-trustjoin.json');
const menuFile = path.join(app, 'root/usr/share/luci/menu.d/luci-app-trustjoin.json');

// Methods that change nothing; everything else needs the write right.
const READ = new Set([ 'status', 'devices', 'device', 'progress', 'preauth_list', 'events', 'unknown', 'behaviour', 'mud_learn', 'mud_show' ]);

function views() {
	const v = viewFiles();
	assert.ok(v.length >= 5, 'the view files are found');
	return v;
}

// Views declare their calls through the app's trustjoin.rpc class
// (tjrpc.declare('method', [ params ])), which turns the plugin's failure
// answers into rejections; none calls rpc.declare itself.
const declareRE = /tjrpc\.declare\('([^']+)'(?:,\s*\[([^\]]*)\])?\)/g;

function declared() {
	const out = new Map();
	for (const { file, src } of views()) {
		assert.doesNotMatch(src, /rpc\.declare\(\{/, `${file} declares a call without trustjoin.rpc`);
		let n = 0;
		for (const m of src.matchAll(declareRE)) {
			out.set(m[1], file);
			n++;
		}
		assert.equal(n, (src.match(/\.declare\(/g) || []).length, `${file}: every declare is read by this test`);
		if (n > 0)
			assert.match(src, /^'require trustjoin\.rpc as tjrpc';$/m, `${file} uses tjrpc without requiring it`);
	}
	return out;
}

function rpcdList() {
	const out = process.env.TJ_BIN
		? execFileSync(process.env.TJ_BIN, [ 'rpcd', 'list' ])
		: execFileSync('go', [ 'run', './src/cmd/trustjoin', 'rpcd', 'list' ], {
			cwd: root, env: Object.assign({}, process.env, { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' }), timeout: 300000
		});
	return JSON.parse(out);
}

test('menu and ACL are valid JSON of the expected shape', () => {
	const menu = JSON.parse(fs.readFileSync(menuFile, 'utf8'));
	const top = menu['admin/network/trustjoin'];
	assert.equal(top.title, 'Trusted devices');
	assert.equal(top.action.type, 'firstchild');
	assert.deepEqual(top.depends.acl, [ 'luci-app-trustjoin' ]);
	const tabs = Object.keys(menu).filter((k) => k.startsWith('admin/network/trustjoin/'));
	assert.deepEqual(tabs.map((k) => menu[k].title), [ 'Devices', 'Add a device', 'Segments & policy', 'Status' ]);
	for (const k of tabs) {
		assert.equal(menu[k].action.type, 'view');
		const f = path.join(app, 'htdocs/luci-static/resources/view', menu[k].action.path + '.js');
		assert.ok(fs.existsSync(f), `${k} points at ${f}, which exists`);
	}
	const acl = JSON.parse(fs.readFileSync(aclFile, 'utf8'));
	assert.deepEqual(Object.keys(acl), [ 'luci-app-trustjoin' ]);
	assert.deepEqual(Object.keys(acl['luci-app-trustjoin']).sort(), [ 'description', 'read', 'write' ]);
});

test('the ACL grants exactly the methods the views call, read separated from write', () => {
	const acl = JSON.parse(fs.readFileSync(aclFile, 'utf8'))['luci-app-trustjoin'];
	assert.deepEqual(Object.keys(acl.read.ubus), [ 'trustjoin' ]);
	assert.deepEqual(Object.keys(acl.write.ubus), [ 'trustjoin' ]);
	const read = acl.read.ubus.trustjoin, write = acl.write.ubus.trustjoin;
	for (const m of read)
		assert.ok(READ.has(m), `${m} changes something, so belongs in write`);
	for (const m of write)
		assert.ok(!READ.has(m), `${m} only reads, so belongs in read`);
	const granted = new Set([ ...read, ...write ]);
	assert.equal(granted.size, read.length + write.length, 'no method granted twice');
	const used = declared();
	for (const [ m, file ] of used)
		assert.ok(granted.has(m), `${file} calls ${m}, which the ACL does not grant`);
	for (const m of granted)
		assert.ok(used.has(m), `the ACL grants ${m}, which no view calls`);
});

test('the ACL grants UCI config trustjoin to read and write, nothing else', () => {
	const acl = JSON.parse(fs.readFileSync(aclFile, 'utf8'))['luci-app-trustjoin'];
	assert.deepEqual(acl.read.uci, [ 'trustjoin' ]);
	assert.deepEqual(acl.write.uci, [ 'trustjoin' ]);
	assert.equal(acl.read.file, undefined);
	assert.equal(acl.write.file, undefined);
	for (const { file, src } of views())
		for (const m of src.matchAll(/(?:uci\.load|form\.Map)\('([^']+)'/g))
			assert.equal(m[1], 'trustjoin', `${file} uses UCI config ${m[1]}`);
});

test('every method the ACL grants exists in `trustjoin rpcd list`, and the reverse for the views', (t) => {
	const list = rpcdList();
	const acl = JSON.parse(fs.readFileSync(aclFile, 'utf8'))['luci-app-trustjoin'];
	const granted = [ ...acl.read.ubus.trustjoin, ...acl.write.ubus.trustjoin ];
	for (const m of granted)
		assert.ok(m in list, `the ACL grants ${m}, which trustjoin does not offer`);
	// Each view passes the arguments rpcd knows for the method.
	for (const { file, src } of views()) {
		for (const m of src.matchAll(declareRE)) {
			if (!(m[1] in list))
				continue;
			const params = (m[2] || '').split(',').map((s) => s.trim().replace(/'/g, '')).filter(Boolean);
			for (const p of params)
				assert.ok(p in list[m[1]], `${file}: ${m[1]} has no argument ${p} in rpcd list (${Object.keys(list[m[1]])})`);
		}
	}
});

test('the vendored jsQR is the pinned npm build, minified', () => {
	execFileSync(process.execPath, [ path.join(__dirname, 'vendor-jsqr.js'), '--check' ], { stdio: 'inherit' });
});
