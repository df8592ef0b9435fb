// Runs one real view file of luci-app-trustjoin in jsdom with the LuCI
// stand-in (standin/luci.js) and a scripted backend for the ubus calls.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM } = require('jsdom');

const root = path.join(__dirname, '../../..');
const viewDir = path.join(root, 'luci-app/htdocs/luci-static/resources/view/trustjoin');
const standin = fs.readFileSync(path.join(__dirname, 'standin/luci.js'), 'utf8');

// The UCI config the views read, as /etc/config/trustjoin ships it.
function defaultUCI() {
	return {
		trustjoin: {
			main: { '.type': 'trustjoin', enabled: '1' },
			onboarding: { '.type': 'onboarding', default_segment: 'iot', legacy_passphrase: '0' },
			trusted: { '.type': 'segment', vlan: '10', internet: '1', reach: [ 'iot', 'guest' ], isolate: '0' },
			iot: { '.type': 'segment', vlan: '20', internet: '1', isolate: '1' },
			guest: { '.type': 'segment', vlan: '30', internet: '1', isolate: '1' },
			quarantine: { '.type': 'segment', vlan: '99', internet: '0', isolate: '1', quarantine: '1' },
			mud: { '.type': 'mud', enabled: '1', signature_policy: 'approve' },
			web: { '.type': 'web', enabled: '0', listen: [ '192.168.1.1:8099' ] }
		}
	};
}

// open loads view `name` ("devices", "add", ..., or a path under view/
// such as "status/include/75_trustjoin"). backend(method, params)
// answers the trustjoin ubus calls; its default answers nothing known.
async function open(name, { backend, uci = defaultUCI(), setup } = {}) {
	const dom = new JSDOM('<!doctype html><html><head></head><body><div id="maincontent"><div id="view"></div></div></body></html>', {
		url: 'http://192.168.1.1/cgi-bin/luci/admin/network/trustjoin/' + name,
		runScripts: 'outside-only',
		pretendToBeVisual: true
	});
	const w = dom.window;
	w.eval(standin);
	w.__luciUCI = uci;
	// The app's own classes ('require trustjoin.rpc'), from luci-app/htdocs.
	w.__luciFetch = (url) => fs.readFileSync(path.join(root, 'luci-app/htdocs', url), 'utf8');
	w.__luciBackend = (object, method, params) => {
		if (object !== 'trustjoin')
			return { __ubus: 4 };
		return backend ? backend(method, params) : { __ubus: 3 };
	};
	if (setup)
		setup(w);
	const src = fs.readFileSync(name.includes('/') ? path.join(viewDir, '..', name + '.js') : path.join(viewDir, name + '.js'), 'utf8');
	const { view, node } = await w.__luci.loadView(src);
	return {
		window: w,
		document: w.document,
		view,
		node,
		luci: w.__luci,
		// JSON copies: values made in the window's realm have other
		// prototypes, which deepStrictEqual would count as a difference.
		calls: () => JSON.parse(JSON.stringify(w.__luci.calls.map((c) => ({ method: c.method, params: c.params })))),
		callsOf: (m) => JSON.parse(JSON.stringify(w.__luci.calls.filter((c) => c.method === m).map((c) => c.params))),
		text: () => w.document.body.textContent.replace(/\s+/g, ' '),
		modal: () => {
			const d = w.document.querySelector('#modal_overlay .modal');
			return w.document.body.classList.contains('modal-overlay-active') && d ? d : null;
		},
		click: async (el) => {
			if (!el)
				throw new Error('nothing to click');
			el.dispatchEvent(new w.MouseEvent('click', { bubbles: true, cancelable: true }));
			await settle();
		},
		tick: async () => {
			await w.__luci.tick();
			await settle();
		},
		close: () => w.close()
	};
}

// settle lets the promise chains a click or poll started run to the end.
async function settle() {
	for (let i = 0; i < 20; i++)
		await new Promise((r) => setImmediate(r));
}

// viewFiles lists every view file of the app (view/trustjoin/*.js and the
// Status → Overview include), relative to htdocs/luci-static/resources/view.
function viewFiles() {
	const base = path.join(viewDir, '..');
	const out = [];
	const walk = (d) => fs.readdirSync(path.join(base, d), { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1).forEach((e) => {
		if (e.isDirectory())
			walk(path.join(d, e.name));
		else if (e.name.endsWith('.js'))
			out.push(path.join(d, e.name));
	});
	walk('');
	return out.map((f) => ({ file: f, src: fs.readFileSync(path.join(base, f), 'utf8') }));
}

module.exports = { open, settle, defaultUCI, root, viewDir, viewFiles };
