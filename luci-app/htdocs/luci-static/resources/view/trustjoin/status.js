'use strict';
'require view';
'require trustjoin.rpc as tjrpc';
'require poll';
'require dom';

// Status: whether trustjoin runs, on which access points it can onboard
// (and how to fix those that cannot), whether the last configuration was
// refused, its counters, and the latest security events (a device
// quarantined for what it tried, one nobody added, a credential about to
// expire...) in the daemon's plain words.

// APP_VERSION is this LuCI package's version; the package build
// (scripts/build/ipk.sh) stamps it, so it matches the daemon it ships with.
var APP_VERSION = '0.0.0-devel';

var callStatus = tjrpc.declare('status');
var callEvents = tjrpc.declare('events', [ 'since' ]);

// SHOWN is how many of the latest events the page lists.
var SHOWN = 20;

function eventKind(k) {
	switch (k) {
	case 'forbidden-traffic': return _('Tried what it may not');
	case 'auto-quarantine': return _('Put in quarantine');
	case 'unknown-device': return _('Device nobody added');
	case 'credential-expiring': return _('Access expires soon');
	case 'credential-expired': return _('Access expired');
	case 'hook-denied': return _('Refused by the authorisation check');
	case 'hook-failed': return _('Authorisation check failed');
	case 'mud-changed': return _('Device profile changed');
	case 'mud-signature-failed': return _('Device profile not genuine');
	}
	return String(k || '');
}

// DPP_FIX is said when the daemon names no fix of its own.
var DPP_FIX = _('Install a full hostapd with Wi-Fi Easy Connect, for example: opkg remove wpad-basic-mbedtls && opkg install wpad-mbedtls (or wpad-openssl), then restart Wi-Fi. OpenWrt 25.12 and later include it in the full variants.');

function band(freq) {
	if (freq >= 5925) return _('6 GHz');
	if (freq >= 4900) return _('5 GHz');
	if (freq >= 2400) return _('2.4 GHz');
	return freq ? '%d MHz'.format(freq) : '';
}

function when(s) {
	return s ? new Date(s).toLocaleString() : '';
}

function isDevel(v) {
	return !v || v == 'devel' || /-devel$/.test(v);
}

return view.extend({
	appVersion: APP_VERSION,

	load: function() {
		return this.fetch();
	},

	// fetch asks for the status and the events together; the events may
	// fail alone (the daemon not watching), which the page says.
	fetch: function() {
		return Promise.all([
			callStatus().catch(function(err) { return { failed: err } }),
			callEvents(0).catch(function(err) { return { failed: err } })
		]).then(function(r) {
			r[0].events = r[1];
			return r[0];
		});
	},

	renderVersion: function(st) {
		var rows = [
			[ _('trustjoin service'), st.version || _('unknown') ],
			[ _('These pages'), this.appVersion ]
		];
		var out = [ E('table', { 'class': 'table', 'id': 'trustjoin-versions' }, rows.map(function(r) {
			return E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td left', 'width': '33%' }, [ r[0] ]), E('td', { 'class': 'td left' }, [ r[1] ]) ]);
		})) ];
		if (!isDevel(st.version) && !isDevel(this.appVersion) && st.version != this.appVersion)
			out.push(E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-version-mismatch' }, [
				_('These pages (version %s) do not match the trustjoin service (version %s). Some things may not work. Install the same version of trustjoin and luci-app-trustjoin.')
					.format(this.appVersion, st.version)
			]));
		return out;
	},

	renderConfig: function(st) {
		var c = st.config || {};
		if (!c.rejected)
			return [ E('p', { 'id': 'trustjoin-config' }, [ c.loaded_at ? _('Configuration in force since %s.').format(when(c.loaded_at)) : '' ]) ];
		return [ E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-config' }, [
			E('h4', [ c.rejected_at
				? _('Your last configuration change was refused (%s)').format(when(c.rejected_at))
				: _('Your last configuration change was refused') ]),
			E('p', [ c.rejected ]),
			E('p', [ c.loaded_at
				? _('trustjoin keeps working with the configuration loaded at %s. Correct the change under “Segments & policy” and save again.').format(when(c.loaded_at))
				: _('Correct the change under “Segments & policy” and save again.') ])
		]) ];
	},

	renderRadios: function(st) {
		var radios = st.radios || [];
		if (!radios.length)
			return [ E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-radios' }, [
				_('No access point found. Check that Wi-Fi is switched on (Network → Wireless) and that hostapd runs.')
			]) ];
		return [ E('table', { 'class': 'table', 'id': 'trustjoin-radios' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Access point') ]),
				E('th', { 'class': 'th' }, [ _('Network name') ]),
				E('th', { 'class': 'th' }, [ _('Band') ]),
				E('th', { 'class': 'th' }, [ _('Wi-Fi Easy Connect (DPP)') ]),
				E('th', { 'class': 'th' }, [ _('What to do') ])
			])
		].concat(radios.map(function(r) {
			var fix = r.fix || (r.dpp ? '' : DPP_FIX);
			return E('tr', { 'class': 'tr', 'data-radio': r.ifname }, [
				E('td', { 'class': 'td' }, [ r.ifname ]),
				E('td', { 'class': 'td' }, [ r.ssid || '' ]),
				E('td', { 'class': 'td' }, [ band(r.freq) ]),
				E('td', { 'class': 'td' }, [ r.dpp
					? (r.dpp_version ? _('Yes (version %d)').format(r.dpp_version) : _('Yes'))
					: E('strong', [ _('Missing') ]) ]),
				E('td', { 'class': 'td' }, [
					r.problem ? E('div', [ r.problem ]) : '',
					fix ? E('div', { 'class': 'trustjoin-fix' }, [ fix ]) : (r.dpp ? _('Nothing: ready.') : '')
				])
			]);
		}))) ];
	},

	// renderHostapd: what is wrong with the installed hostapd as a whole
	// (a basic variant: no VLANs), with the daemon's fix.
	renderHostapd: function(st) {
		var h = st.hostapd || {};
		if (!h.problem)
			return [];
		return [ E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-hostapd' }, [
			E('p', [ h.problem ]),
			h.fix ? E('p', { 'class': 'trustjoin-fix' }, [ h.fix ]) : ''
		]) ];
	},

	renderCounters: function(st) {
		var c = st.counters || {};
		var rows = [
			[ _('Devices added'), c.onboarded ],
			[ _('Connected now'), c.connected ],
			[ _('In quarantine'), c.quarantined ],
			[ _('Failed attempts to add a device'), c.onboarding_failures ],
			[ _('Blocked connections against a device profile'), c.mud_violations ],
			[ _('Security events since the router started'), c.security_events ],
			[ _('Devices on your network nobody added'), c.unknown_devices ],
			[ _('Devices waiting to be scanned again'), c.needs_reonboarding ]
		];
		return [ E('table', { 'class': 'table', 'id': 'trustjoin-counters' }, rows.map(function(r) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left', 'width': '33%' }, [ r[0] ]),
				E('td', { 'class': 'td left' }, [ String(r[1] != null ? r[1] : 0) ])
			]);
		})) ];
	},

	// renderEvents lists the latest security events, newest first.
	renderEvents: function(ev) {
		if (!ev || ev.failed)
			return [ E('p', { 'id': 'trustjoin-events', 'class': 'alert-message notice' }, [
				_('Security events cannot be shown: %s').format(ev && ev.failed ? (ev.failed.message || String(ev.failed)) : _('no answer'))
			]) ];
		var list = (ev.events || []).slice(-SHOWN).reverse();
		if (!list.length)
			return [ E('p', { 'id': 'trustjoin-events' }, [ _('Nothing to report since the router started.') ]) ];
		return [ E('table', { 'class': 'table', 'id': 'trustjoin-events' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('When') ]),
				E('th', { 'class': 'th' }, [ _('What') ]),
				E('th', { 'class': 'th' }, [ _('Details') ])
			])
		].concat(list.map(function(e) {
			return E('tr', { 'class': 'tr', 'data-event': String(e.seq), 'data-kind': e.kind || '' }, [
				E('td', { 'class': 'td', 'data-title': _('When') }, [ when(e.at) ]),
				E('td', { 'class': 'td', 'data-title': _('What') }, [ eventKind(e.kind) ]),
				E('td', { 'class': 'td', 'data-title': _('Details') }, [ e.message || '' ])
			]);
		}))) ];
	},

	renderBody: function(st) {
		if (st.failed)
			return [ E('div', { 'class': 'alert-message warning', 'id': 'trustjoin-down' }, [
				E('p', [ _('The trustjoin service does not answer: %s').format(st.failed.message || String(st.failed)) ]),
				E('p', [ _('Start it under System → Startup, or run /etc/init.d/trustjoin start; its log is under Status → System Log.') ])
			]) ];
		var sect = function(title, body) {
			return E('div', { 'class': 'cbi-section' }, [ E('h3', [ title ]) ].concat(body));
		};
		return [
			st.ready ? '' : E('div', { 'class': 'alert-message notice' }, [ _('trustjoin is starting…') ]),
			sect(_('Versions'), this.renderVersion(st)),
			sect(_('Configuration'), this.renderConfig(st)),
			sect(_('Access points'), this.renderHostapd(st).concat(this.renderRadios(st))),
			sect(_('Counters'), this.renderCounters(st)),
			sect(_('Recent security events'), this.renderEvents(st.events))
		];
	},

	refresh: function() {
		return this.fetch().then(L.bind(function(st) {
			dom.content(this.body, this.renderBody(st));
		}, this));
	},

	render: function(st) {
		this.body = E('div', { 'id': 'trustjoin-status' }, this.renderBody(st));
		poll.add(L.bind(this.refresh, this), 10);
		return E('div', { 'class': 'cbi-map' }, [
			E('h2', [ _('trustjoin status') ]),
			this.body
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
