'use strict';
'require view';
'require trustjoin.rpc as tjrpc';
'require uci';
'require ui';
'require poll';
'require dom';

// Devices: every device trustjoin onboarded, with what people can do to
// one (and, in its details, what it did lately, why it is in quarantine,
// when its access expires, the profile learned from it, what the firewall
// enforces), and the devices on the network nobody added, with what can
// be done about them. Text from the router (names, warnings) is always added as text
// nodes (inside arrays for E()), never as HTML: a device chooses its own
// name in its DPP URI. ui.showModal puts its title in as HTML, so names
// go into titles through %h.

var callDevices = tjrpc.declare('devices');
var callDevice = tjrpc.declare('device', [ 'id' ]);
var callRename = tjrpc.declare('rename', [ 'id', 'name' ]);
var callMove = tjrpc.declare('move', [ 'id', 'segment' ]);
var callQuarantine = tjrpc.declare('quarantine', [ 'id' ]);
var callRelease = tjrpc.declare('release', [ 'id' ]);
var callRotate = tjrpc.declare('rotate', [ 'id' ]);
var callRemove = tjrpc.declare('remove', [ 'id' ]);
var callMudSet = tjrpc.declare('mud_set', [ 'id', 'url' ]);
var callMudApprove = tjrpc.declare('mud_approve', [ 'id' ]);
var callBehaviour = tjrpc.declare('behaviour', [ 'id' ]);
var callLearned = tjrpc.declare('mud_learn', [ 'id' ]);
var callLearnedApprove = tjrpc.declare('mud_learn_approve', [ 'id' ]);
var callEnforced = tjrpc.declare('mud_show', [ 'id' ]);
var callUnknown = tjrpc.declare('unknown');
var callUnknownHandle = tjrpc.declare('unknown_handle', [ 'mac', 'action' ]);

// SHOWN is how many of a device's latest destinations its details list.
var SHOWN = 10;

function when(s) {
	return s ? new Date(s).toLocaleString() : '';
}

// failed is what a call that may fail alone gives its part of a page.
function failed(err) {
	return { failed: err.message || String(err) };
}

function stateText(d) {
	if (d.quarantined)
		return _('Quarantined');
	switch (d.state) {
	case 'needs-reonboarding': return _('Needs a new scan');
	case 'connected': return _('Connected');
	case 'disconnected': return _('Not connected');
	case 'onboarding': return _('Being added');
	}
	return d.state || '';
}

// destination says where a flow went, as `trustjoin device` says it:
// name or address, port and protocol.
function destination(e) {
	var host = e.name || e.address || '';
	var hp = function(port) {
		return (host.indexOf(':') >= 0 ? '[' + host + ']' : host) + ':' + port;
	};
	switch (e.proto) {
	case 1:
	case 58: return _('%s (ping and other control messages, type %d)').format(host, e.port);
	case 6: return _('%s/tcp').format(hp(e.port));
	case 17: return _('%s/udp').format(hp(e.port));
	}
	return e.port ? _('%s protocol %d').format(hp(e.port), e.proto) : _('%s protocol %d').format(host, e.proto);
}

function verdictText(v) {
	switch (v) {
	case 'dropped': return _('Blocked');
	case 'opened': return _('Allowed');
	case 'inbound': return _('Reached from elsewhere');
	}
	return String(v || '');
}

// unknownText says what an unknown device is, in plain words.
function unknownText(u) {
	switch (u.kind) {
	case 'shared-password': return _('Uses the shared Wi-Fi password');
	case 'unrecognised-station': return _('A Wi-Fi device the router does not recognise');
	case 'wired': return _('Connected by cable');
	case 'wrong-segment': return _('%s, which belongs in “%s”').format(u.name || u.device || '', u.expected_segment || '');
	}
	return String(u.kind || '');
}

function handledText(action) {
	switch (action) {
	case 'block': return _('Blocked');
	case 'guest': return _('Internet only (guest)');
	}
	return String(action || '');
}

function mudText(mud) {
	switch ((mud && mud.status) || 'none') {
	case 'none': return _('No MUD profile');
	case 'fetching': return _('Fetching profile…');
	case 'enforced': return _('Profile enforced');
	case 'pending-approval': return _('Not verified: waiting for your approval');
	case 'fetch-failed': return _('Profile could not be fetched');
	case 'rejected': return _('Profile rejected');
	}
	return String(mud.status);
}

// mudStatus shows a MUD status and, below it, the daemon's detail (why a
// file is waiting, why a fetch failed), as text: the detail quotes what
// a server and the device said.
function mudStatus(mud) {
	var detail = mud && mud.detail ? String(mud.detail) : '';
	return E('div', { 'class': 'trustjoin-mud', 'data-mud-status': (mud && mud.status) || 'none' }, [
		E('span', [ mudText(mud) ]),
		detail ? E('div', { 'class': 'cbi-value-description', 'data-mud-detail': '' }, [ detail ]) : ''
	]);
}

// mudURLProblem says what is wrong with a MUD URL typed by hand, or
// returns null. It checks what the daemon checks (RFC 8520 allows https
// only), so the householder hears it before anything is sent.
function mudURLProblem(s) {
	var u;
	if (s == '')
		return _('Please enter the address of the MUD file.');
	if (s.length > 1024)
		return _('The address is longer than 1024 characters.');
	if (!/^https:\/\//i.test(s))
		return _('The address must start with https://: MUD files are only fetched over a secure connection.');
	try {
		u = new URL(s);
	}
	catch (e) {
		return _('This is not a web address. It should look like https://example.com/device.json.');
	}
	if (u.protocol != 'https:' || u.hostname == '')
		return _('The address must start with https://: MUD files are only fetched over a secure connection.');
	if (u.username != '' || u.password != '')
		return _('The address must not contain a user name or password.');
	return null;
}

function seenText(d) {
	if (d.connected)
		return _('Connected now');
	if (d.last_seen)
		return _('Last seen %s').format(new Date(d.last_seen).toLocaleString());
	return _('Not seen yet');
}

function displayName(d) {
	return d.name || d.id;
}

return view.extend({
	load: function() {
		return Promise.all([
			callDevices(),
			L.resolveDefault(uci.load('trustjoin'), null),
			callUnknown().catch(failed)
		]);
	},

	// segments a device can be put in: not the quarantine segment, which
	// is what Quarantine is for.
	segments: function() {
		return (uci.sections('trustjoin', 'segment') || []).filter(function(s) {
			return s.quarantine != '1';
		}).map(function(s) { return s['.name'] });
	},

	notifyError: function(what, err) {
		ui.addNotification(null, E('p', [ _('%s failed: %s').format(what, err.message || String(err)) ]), 'danger');
	},

	// act runs one action, closes the dialog and shows the table again.
	act: function(what, fn) {
		return Promise.resolve().then(fn).then(L.bind(function() {
			ui.hideModal();
			return this.refresh();
		}, this)).catch(L.bind(function(err) {
			ui.hideModal();
			this.notifyError(what, err);
		}, this));
	},

	// dialog shows body with Cancel and one button, label, styled style,
	// that runs fn (bound to the view).
	dialog: function(title, body, label, style, fn) {
		ui.showModal(title, body.concat([
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn cbi-button', 'click': ui.hideModal }, [ _('Cancel') ]),
				' ',
				E('button', {
					'class': 'btn cbi-button ' + style,
					'data-action': 'confirm',
					'click': ui.createHandlerFn(this, fn)
				}, [ label ])
			])
		]));
	},

	confirm: function(title, text, label, fn) {
		this.dialog(title, [ E('p', [ text ]) ], label, 'cbi-button-negative', fn);
	},

	handleRename: function(d) {
		var input = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'value': d.name || '', 'maxlength': 64 });
		this.dialog(_('Rename device'), [
			E('p', [ _('A name you will recognise, such as “Kitchen speaker”.') ]),
			input
		], _('Save'), 'cbi-button-positive', function() {
			var name = input.value.trim();
			if (name == '') {
				ui.addNotification(null, E('p', [ _('Please enter a name.') ]), 'warning');
				return;
			}
			return this.act(_('Renaming'), function() { return callRename(d.id, name) });
		});
	},

	handleMove: function(d) {
		var select = E('select', { 'class': 'cbi-input-select' }, this.segments().map(function(s) {
			return E('option', { 'value': s, 'selected': s == d.segment ? '' : null }, [ s ]);
		}));
		this.dialog(_('Move to another segment'), [
			E('p', [ _('The device reconnects in the chosen segment; what it may reach changes with it.') ]),
			select
		], _('Move'), 'cbi-button-positive', function() {
			return this.act(_('Moving'), function() { return callMove(d.id, select.value) });
		});
	},

	handleQuarantine: function(d) {
		this.confirm(_('Quarantine %h?').format(displayName(d)),
			_('The device stays connected but can reach neither the internet nor your other devices until you release it.'),
			_('Quarantine'),
			function() { return this.act(_('Quarantine'), function() { return callQuarantine(d.id) }) });
	},

	handleRelease: function(d) {
		return this.act(_('Release'), function() { return callRelease(d.id) });
	},

	handleRotate: function(d) {
		this.confirm(_('Give %h a new credential?').format(displayName(d)),
			_('The old credential stops working. Most devices pick up the new one by themselves; some have to be added again.'),
			_('Rotate credential'),
			function() { return this.act(_('Rotating the credential'), function() { return callRotate(d.id) }) });
	},

	handleRemove: function(d) {
		this.confirm(_('Remove %h?').format(displayName(d)),
			_('The device is disconnected and its credential deleted. To use it again you will have to add it again.'),
			_('Remove'),
			function() { return this.act(_('Removing'), function() { return callRemove(d.id) }) });
	},

	// handleMudApprove lets a MUD file whose signature could not be
	// verified apply. The daemon ties the approval to the file's digest,
	// which is why the dialog can promise that a changed file asks again.
	handleMudApprove: function(d) {
		var mud = d.mud || {};
		this.dialog(_('Apply the unverified MUD file of %h?').format(displayName(d)), [
			E('p', [ _('A MUD file is the manufacturer’s description of what a device needs to reach on the network. The router lets the device reach that and nothing else.') ]),
			E('p', [ _('The file for this device could not be verified: nothing proves that it comes from the manufacturer or that nobody changed it on the way. Until you approve it, this file does not change what the device may reach.') ]),
			E('p', [ _('If you approve, the router applies this exact file. If the file changes later, it waits for your approval again.') ]),
			mud.url ? E('p', [ _('The file comes from:'), ' ', E('code', { 'data-mud-url': '' }, [ mud.url ]) ]) : '',
			mud.detail ? E('p', { 'class': 'cbi-value-description' }, [ String(mud.detail) ]) : '',
			E('p', [ _('Approve only if you trust that address.') ])
		], _('Approve this file'), 'cbi-button-action', function() {
			return this.act(_('Approving the MUD file'), function() { return callMudApprove(d.id) });
		});
	},

	// handleMudSet asks for the address of a device's MUD file; one that
	// is not https is refused here, before anything is sent.
	handleMudSet: function(d) {
		var input = E('input', {
			'type': 'url', 'class': 'cbi-input-text', 'value': (d.mud && d.mud.url) || '',
			'placeholder': 'https://', 'maxlength': 1024, 'style': 'width:100%'
		});
		var problem = E('div', { 'data-problem': '' });
		this.dialog(_('Set the MUD URL of %h').format(displayName(d)), [
			E('p', [ _('The address of the manufacturer’s MUD file, which describes what the device needs to reach on the network. Devices usually announce it themselves; enter one only if the manufacturer gives it to you.') ]),
			E('p', [ _('The router fetches the file and checks its signature. A file that cannot be verified waits for your approval.') ]),
			input,
			problem
		], _('Save'), 'cbi-button-positive', function() {
			var url = input.value.trim(), why = mudURLProblem(url);
			if (why != null) {
				dom.content(problem, E('p', { 'class': 'alert-message warning' }, [ why ]));
				return;
			}
			return this.act(_('Setting the MUD URL'), function() { return callMudSet(d.id, url) });
		});
	},

	// handleDetails shows one device: what it is, why it is in
	// quarantine (with Release), when its access expires, what it did
	// lately, the profile learned from it, and what the firewall enforces.
	// Each part is asked for on its own: one that fails says why.
	handleDetails: function(d, ev) {
		if (ev && ev.preventDefault)
			ev.preventDefault();
		return Promise.all([
			callDevice(d.id),
			callBehaviour(d.id).catch(failed),
			callLearned(d.id).catch(failed),
			callEnforced(d.id).catch(failed)
		]).then(L.bind(function(r) {
			var full = r[0];
			var cred = full.credential;
			var rows = [
				[ _('Name'), displayName(full) ],
				[ _('State'), stateText(full) ],
				[ _('Segment'), full.segment ],
				[ _('Hardware addresses'), (full.macs || []).join(', ') || '—' ],
				[ _('MUD profile'), full.mud && full.mud.url ? full.mud.url : '—' ],
				[ _('MUD status'), mudStatus(full.mud) ],
				[ _('Credential'), cred
					? _('%s, made %s').format(cred.key_id, new Date(cred.created_at).toLocaleString())
					: '—' ],
				[ _('Access expires'), E('span', { 'data-expires': cred && cred.expires_at ? cred.expires_at : '' }, [
					full.state == 'needs-reonboarding'
						? _('Expired or replaced: scan the device’s code again (Add a device)')
						: (cred && cred.expires_at ? when(cred.expires_at) : _('Never'))
				]) ]
			];
			ui.showModal('%h'.format(displayName(full)), [
				this.renderQuarantine(full),
				E('table', { 'class': 'table' }, rows.map(function(r) {
					return E('tr', { 'class': 'tr' }, [
						E('td', { 'class': 'td left' }, [ r[0] ]),
						E('td', { 'class': 'td left' }, [ r[1] ])
					]);
				})),
				E('h4', [ _('What it did lately') ]),
				this.renderBehaviour(r[1]),
				E('h4', [ _('What it was seen using') ]),
				this.renderLearned(full, r[2]),
				this.renderEnforced(r[3]),
				E('div', { 'class': 'right' }, [
					E('button', {
						'class': 'btn cbi-button',
						'data-action': 'mud-set',
						'click': ui.createHandlerFn(this, 'handleMudSet', full)
					}, [ _('Set MUD URL') ]),
					' ',
					E('button', { 'class': 'btn cbi-button', 'click': ui.hideModal }, [ _('Close') ])
				])
			]);
		}, this)).catch(L.bind(function(err) { this.notifyError(_('Loading the device'), err) }, this));
	},

	// renderQuarantine says why a device is in quarantine (the latest
	// such entry of its history), with the one action that ends it.
	renderQuarantine: function(d) {
		if (!d.quarantined)
			return '';
		var why = (d.history || []).filter(function(h) { return /^quarantined/i.test(h.what || '') }).pop();
		return E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-quarantine' }, [
			E('p', [ _('This device is in quarantine: it can reach neither the internet nor your other devices.') ]),
			why ? E('p', { 'data-reason': '' }, [ _('Why (%s):').format(when(why.at)), ' ', why.what ]) : '',
			E('button', {
				'class': 'btn cbi-button cbi-button-positive',
				'data-action': 'release',
				'click': ui.createHandlerFn(this, 'handleRelease', d)
			}, [ _('Release') ])
		]);
	},

	// renderBehaviour lists what the firewall saw the device do lately:
	// what its policy blocked and which connections it opened.
	renderBehaviour: function(b) {
		if (b.failed)
			return E('p', { 'id': 'trustjoin-behaviour', 'class': 'cbi-value-description' }, [ _('Not available: %s').format(b.failed) ]);
		var entries = (b.entries || []).slice(0, SHOWN);
		return E('div', { 'id': 'trustjoin-behaviour' }, [
			E('p', [ _('Since the router started: %d blocked, %d connections it opened, %d reaching it.').format(b.dropped || 0, b.opened || 0, b.inbound || 0) ]),
			entries.length ? E('table', { 'class': 'table' }, [
				E('tr', { 'class': 'tr table-titles' }, [
					E('th', { 'class': 'th' }, [ '' ]),
					E('th', { 'class': 'th' }, [ _('Where') ]),
					E('th', { 'class': 'th' }, [ _('Times') ]),
					E('th', { 'class': 'th' }, [ _('Last') ])
				])
			].concat(entries.map(function(e) {
				return E('tr', { 'class': 'tr', 'data-verdict': e.verdict }, [
					E('td', { 'class': 'td' }, [ verdictText(e.verdict) ]),
					E('td', { 'class': 'td' }, [ destination(e) ]),
					E('td', { 'class': 'td' }, [ String(e.count || 0) ]),
					E('td', { 'class': 'td' }, [ when(e.last) ])
				]);
			}))) : E('p', [ _('Nothing seen yet.') ])
		]);
	},

	// renderLearned shows the profile learned from a device without a
	// maker's MUD file, in plain words, and lets it be approved: then the
	// device may reach what it was seen using and nothing else.
	renderLearned: function(d, l) {
		if (l.failed)
			return E('p', { 'id': 'trustjoin-learned', 'class': 'cbi-value-description' }, [ _('No profile: %s').format(l.failed) ]);
		var p = l.profile || {};
		var out = E('div', { 'id': 'trustjoin-learned' }, [
			E('p', [ l.learning
				? _('Still learning, until %s. So far:').format(when(p.until))
				: _('Learned from %s to %s:').format(when(p.started), when(p.until)) ]),
			(l.describe || []).length
				? E('ul', (l.describe || []).map(function(s) { return E('li', [ s ]) }))
				: E('p', [ _('Nothing seen yet.') ]),
			p.full ? E('p', { 'class': 'cbi-value-description' }, [ _('It used more than a profile holds: some destinations were left out. That is itself worth a look.') ]) : '',
			E('div', { 'data-problem': '' })
		]);
		if (!l.learning)
			out.appendChild(E('p', [
				_('If you approve, the device may reach exactly this, and nothing else, as if its maker had said so.'), ' ',
				E('button', {
					'class': 'btn cbi-button cbi-button-action',
					'data-action': 'learn-approve',
					'click': ui.createHandlerFn(this, 'handleLearnedApprove', d, out)
				}, [ _('Approve this profile') ])
			]));
		return out;
	},

	// handleLearnedApprove enforces the learned profile; a refusal (the
	// daemon may not offer it) is said in the dialog, which stays open.
	handleLearnedApprove: function(d, box) {
		return callLearnedApprove(d.id).then(L.bind(function() {
			ui.hideModal();
			return this.refresh();
		}, this)).catch(function(err) {
			dom.content(box.querySelector('[data-problem]'), E('p', { 'class': 'alert-message warning' }, [
				_('The profile was not approved: %s').format(err.message || String(err))
			]));
		});
	},

	// renderEnforced shows, folded, what the firewall holds for the device
	// (`trustjoin mud show`): its rules as nft prints them.
	renderEnforced: function(f) {
		var body;
		if (f.failed)
			body = E('p', [ _('Not available: %s').format(f.failed) ]);
		else if (!f.in_firewall)
			body = E('p', [ _('The firewall holds nothing for this device: %s').format(f.reason || _('unknown reason')) ]);
		else
			body = E('pre', { 'style': 'white-space:pre-wrap;font-size:85%' }, [ f.rules || '' ]);
		return E('details', { 'id': 'trustjoin-enforced' }, [
			E('summary', [ _('What the firewall enforces (for experts)') ]),
			body
		]);
	},

	renderRow: function(d) {
		var btn = L.bind(function(label, action, fn, cls) {
			return E('button', {
				'class': 'btn cbi-button ' + (cls || ''),
				'data-action': action,
				'click': ui.createHandlerFn(this, fn, d)
			}, [ label ]);
		}, this);

		var state = stateText(d);
		var warnings = (d.warnings || []).map(function(w) { return E('div', { 'class': 'warning' }, [ w ]) });

		return E('tr', { 'class': 'tr', 'data-device': d.id }, [
			E('td', { 'class': 'td', 'data-title': _('Name') }, [
				E('a', { 'href': '#', 'click': ui.createHandlerFn(this, 'handleDetails', d) }, [ displayName(d) ])
			]),
			E('td', { 'class': 'td', 'data-title': _('Segment') }, [ d.segment || '' ]),
			E('td', { 'class': 'td', 'data-title': _('State') }, [
				state,
				d.credential && d.credential.expires_at && d.state != 'needs-reonboarding'
					? E('div', { 'style': 'font-size:90%', 'data-expires': d.credential.expires_at }, [ _('Access until %s').format(when(d.credential.expires_at)) ])
					: ''
			]),
			E('td', { 'class': 'td', 'data-title': _('Connection') }, [ seenText(d) ]),
			E('td', { 'class': 'td', 'data-title': _('MUD') }, [
				mudStatus(d.mud),
				d.mud && d.mud.status == 'pending-approval'
					? btn(_('Approve'), 'mud-approve', 'handleMudApprove', 'cbi-button-action')
					: ''
			]),
			E('td', { 'class': 'td', 'data-title': _('Warnings') }, warnings.length ? warnings : [ '' ]),
			E('td', { 'class': 'td cbi-section-actions' }, [
				btn(_('Rename'), 'rename', 'handleRename'),
				btn(_('Move'), 'move', 'handleMove'),
				d.quarantined
					? btn(_('Release'), 'release', 'handleRelease', 'cbi-button-positive')
					: btn(_('Quarantine'), 'quarantine', 'handleQuarantine', 'cbi-button-negative'),
				btn(_('Rotate credential'), 'rotate', 'handleRotate'),
				btn(_('Remove'), 'remove', 'handleRemove', 'cbi-button-negative')
			])
		]);
	},

	renderRows: function(devices) {
		var rows = devices.length ? devices.map(L.bind(this.renderRow, this)) : [
			E('tr', { 'class': 'tr placeholder' }, [
				E('td', { 'class': 'td', 'colspan': 7 }, [ _('No devices yet. Use “Add a device” to add one.') ])
			])
		];
		dom.content(this.tbody, rows);
	},

	// handleUnknown acts on a device nobody added: block it, let it reach
	// the internet only (guest), or undo that (action '').
	handleUnknown: function(mac, action) {
		return this.act(action == 'block' ? _('Blocking') : (action == 'guest' ? _('Moving to guest') : _('Undoing')),
			function() { return callUnknownHandle(mac, action) });
	},

	handleBlock: function(u) {
		this.confirm(_('Block %h?').format(u.hostname || u.mac),
			_('The device gets no address from the router and the access points refuse it, until you undo this.'),
			_('Block'),
			function() { return this.handleUnknown(u.mac, 'block') });
	},

	// renderUnknown lists the devices nobody added (and those acted on).
	renderUnknown: function(r) {
		if (r.failed)
			return [ E('p', { 'class': 'alert-message notice' }, [ _('Cannot look for them: %s').format(r.failed) ]) ];
		if (r.off)
			return [ E('p', [ _('The router does not look for them (turned off in the settings).') ]) ];
		var btn = L.bind(function(label, action, fn, cls) {
			return E('button', { 'class': 'btn cbi-button ' + (cls || ''), 'data-action': action, 'click': fn }, [ label ]);
		}, this);
		var handled = {};
		(r.handled || []).forEach(function(h) { handled[h.mac] = h });
		var rows = (r.unknown || []).map(L.bind(function(u) {
			var h = handled[u.mac];
			delete handled[u.mac];
			return this.renderUnknownRow(u, h, btn);
		}, this)).concat(Object.keys(handled).map(L.bind(function(mac) {
			return this.renderUnknownRow({ mac: mac }, handled[mac], btn);
		}, this)));
		var out = [];
		if (r.error)
			out.push(E('p', { 'class': 'alert-message notice' }, [ _('The last search failed (%s); this is what it found before.').format(r.error) ]));
		out.push(E('table', { 'class': 'table', 'id': 'trustjoin-unknown' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Device') ]),
				E('th', { 'class': 'th' }, [ _('What it is') ]),
				E('th', { 'class': 'th' }, [ _('Where') ]),
				E('th', { 'class': 'th' }, [ _('Seen') ]),
				E('th', { 'class': 'th cbi-section-actions' }, [ '' ])
			])
		].concat(rows.length ? rows : [
			E('tr', { 'class': 'tr placeholder' }, [
				E('td', { 'class': 'td', 'colspan': 5 }, [ _('None: every device on your network was added here.') ])
			])
		])));
		return out;
	},

	renderUnknownRow: function(u, h, btn) {
		var name = [ u.hostname || '', u.mac ].concat(u.addresses || []).filter(function(x) { return x }).join(' · ');
		var actions;
		if (h)
			actions = [
				E('span', { 'data-handled': h.action }, [ handledText(h.action) ]), ' ',
				btn(_('Undo'), 'unknown-undo', ui.createHandlerFn(this, 'handleUnknown', u.mac, ''))
			];
		else
			actions = [
				u.kind == 'wrong-segment' ? '' : E('a', {
					'class': 'btn cbi-button cbi-button-action',
					'data-action': 'unknown-add',
					'href': L.url('admin/network/trustjoin/add')
				}, [ _('Add it properly') ]), ' ',
				btn(_('Move to guest'), 'unknown-guest', ui.createHandlerFn(this, 'handleUnknown', u.mac, 'guest')), ' ',
				btn(_('Block'), 'unknown-block', ui.createHandlerFn(this, 'handleBlock', u), 'cbi-button-negative')
			];
		return E('tr', { 'class': 'tr', 'data-mac': u.mac }, [
			E('td', { 'class': 'td', 'data-title': _('Device') }, [ name ]),
			E('td', { 'class': 'td', 'data-title': _('What it is') }, [ u.kind ? unknownText(u) : _('Not seen now') ]),
			E('td', { 'class': 'td', 'data-title': _('Where') }, [ u.kind ? (u.segment ? _('Segment “%s” (%s)').format(u.segment, u.iface || '') : _('Your main network (%s)').format(u.iface || '')) : '' ]),
			E('td', { 'class': 'td', 'data-title': _('Seen') }, [ u.last_seen ? when(u.last_seen) : '' ]),
			E('td', { 'class': 'td cbi-section-actions' }, actions)
		]);
	},

	refresh: function() {
		callUnknown().catch(failed).then(L.bind(function(u) {
			dom.content(this.unknownBox, this.renderUnknown(u));
		}, this));
		return callDevices().then(L.bind(function(r) {
			dom.content(this.errorBox, []);
			this.renderRows((r && r.devices) || []);
		}, this)).catch(L.bind(function(err) {
			dom.content(this.errorBox, E('p', { 'class': 'alert-message warning' }, [
				_('Could not load the devices: %s').format(err.message || String(err))
			]));
		}, this));
	},

	render: function(data) {
		this.errorBox = E('div');
		this.tbody = E('tbody');

		var table = E('table', { 'class': 'table', 'id': 'trustjoin-devices' }, [
			E('thead', [
				E('tr', { 'class': 'tr table-titles' }, [
					E('th', { 'class': 'th' }, [ _('Name') ]),
					E('th', { 'class': 'th' }, [ _('Segment') ]),
					E('th', { 'class': 'th' }, [ _('State') ]),
					E('th', { 'class': 'th' }, [ _('Connection') ]),
					E('th', { 'class': 'th' }, [ _('MUD') ]),
					E('th', { 'class': 'th' }, [ _('Warnings') ]),
					E('th', { 'class': 'th cbi-section-actions' }, [ '' ])
				])
			]),
			this.tbody
		]);

		this.renderRows((data[0] && data[0].devices) || []);
		this.unknownBox = E('div', { 'id': 'trustjoin-unknown-box' }, this.renderUnknown(data[2] || {}));
		poll.add(L.bind(this.refresh, this), 5);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', [ _('Trusted devices') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('Every device added through trustjoin has its own Wi-Fi credential and belongs to one segment.')
			]),
			this.errorBox,
			E('div', { 'class': 'cbi-section' }, [ table ]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Devices nobody added') ]),
				E('div', { 'class': 'cbi-section-descr' }, [
					_('Devices on your network that were not added here: on the shared Wi-Fi password, plugged in by cable, or on a segment that is not theirs. Add each one properly, let it reach the internet only, or block it.')
				]),
				this.unknownBox
			])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
