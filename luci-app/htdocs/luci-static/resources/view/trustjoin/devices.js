'use strict';
'require view';
'require trustjoin.rpc as tjrpc';
'require uci';
'require ui';
'require poll';
'require dom';

// Devices: every device trustjoin onboarded, with what people can do to
// one. Text from the router (names, warnings) is always added as text
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
			L.resolveDefault(uci.load('trustjoin'), null)
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

	handleDetails: function(d, ev) {
		if (ev && ev.preventDefault)
			ev.preventDefault();
		return callDevice(d.id).then(L.bind(function(full) {
			var rows = [
				[ _('Name'), displayName(full) ],
				[ _('Segment'), full.segment ],
				[ _('Hardware addresses'), (full.macs || []).join(', ') || '—' ],
				[ _('MUD profile'), full.mud && full.mud.url ? full.mud.url : '—' ],
				[ _('MUD status'), mudStatus(full.mud) ],
				[ _('Credential'), full.credential
					? _('%s, made %s').format(full.credential.key_id, new Date(full.credential.created_at).toLocaleString())
					: '—' ]
			];
			ui.showModal('%h'.format(displayName(full)), [
				E('table', { 'class': 'table' }, rows.map(function(r) {
					return E('tr', { 'class': 'tr' }, [
						E('td', { 'class': 'td left' }, [ r[0] ]),
						E('td', { 'class': 'td left' }, [ r[1] ])
					]);
				})),
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

	renderRow: function(d) {
		var btn = L.bind(function(label, action, fn, cls) {
			return E('button', {
				'class': 'btn cbi-button ' + (cls || ''),
				'data-action': action,
				'click': ui.createHandlerFn(this, fn, d)
			}, [ label ]);
		}, this);

		var state = d.quarantined ? _('Quarantined') : (d.state || '');
		var warnings = (d.warnings || []).map(function(w) { return E('div', { 'class': 'warning' }, [ w ]) });

		return E('tr', { 'class': 'tr', 'data-device': d.id }, [
			E('td', { 'class': 'td', 'data-title': _('Name') }, [
				E('a', { 'href': '#', 'click': ui.createHandlerFn(this, 'handleDetails', d) }, [ displayName(d) ])
			]),
			E('td', { 'class': 'td', 'data-title': _('Segment') }, [ d.segment || '' ]),
			E('td', { 'class': 'td', 'data-title': _('State') }, [ state ]),
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

	refresh: function() {
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
		poll.add(L.bind(this.refresh, this), 5);

		return E('div', { 'class': 'cbi-map' }, [
			E('h2', [ _('Trusted devices') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('Every device added through trustjoin has its own Wi-Fi credential and belongs to one segment.')
			]),
			this.errorBox,
			E('div', { 'class': 'cbi-section' }, [ table ])
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
