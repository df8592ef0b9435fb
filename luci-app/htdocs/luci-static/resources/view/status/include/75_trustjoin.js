'use strict';
'require baseclass';
'require trustjoin.rpc as tjrpc';

// A box on Status → Overview: how many devices, and whether something
// needs the householder (no Wi-Fi Easy Connect, a hostapd without VLANs, a
// refused configuration, devices nobody added or waiting for a new scan,
// the service not answering), linking to the page that says what to do.

var callStatus = tjrpc.declare('status');

return baseclass.extend({
	title: _('Trusted devices'),

	load: function() {
		return callStatus().then(function(st) {
			if (st == null || typeof(st) != 'object')
				throw new Error(_('Unknown error'));
			return st;
		}).catch(function(err) {
			// A user without trustjoin's ACL gets no box: a rejected load
			// makes Status → Overview leave it hidden (luci-mod-status).
			if (err && err.name == 'RPCError' && /failed with error -32002\b/.test(err.message))
				throw err;
			return { failed: err };
		});
	},

	render: function(st) {
		var link = function(text, page) {
			return E('a', { 'href': L.url('admin/network/trustjoin/' + (page || 'status')) }, [ text ]);
		};
		if (st.failed)
			return E('div', { 'class': 'alert-message warning' }, [
				_('The trustjoin service does not answer.'), ' ', link(_('Details'))
			]);

		var c = st.counters || {}, radios = st.radios || [];
		var ready = radios.filter(function(r) { return r.dpp }).length;
		var notes = [];
		if (radios.length == 0 || ready < radios.length)
			notes.push(_('Wi-Fi Easy Connect works on %d of %d access points.').format(ready, radios.length));
		if (st.hostapd && st.hostapd.problem)
			notes.push(_('The installed hostapd cannot put devices in their segments (no VLANs).'));
		if (st.config && st.config.rejected)
			notes.push(_('Your last configuration change was refused.'));
		var devnotes = [];
		if (c.unknown_devices > 0)
			devnotes.push(_('Devices on your network nobody added: %d.').format(c.unknown_devices));
		if (c.needs_reonboarding > 0)
			devnotes.push(_('Devices waiting to be scanned again: %d.').format(c.needs_reonboarding));

		var rows = [
			[ _('Devices added'), String(c.onboarded || 0) ],
			[ _('Connected now'), String(c.connected || 0) ],
			[ _('In quarantine'), String(c.quarantined || 0) ]
		];
		return E('div', {}, [
			E('table', { 'class': 'table' }, rows.map(function(r) {
				return E('tr', { 'class': 'tr' }, [
					E('td', { 'class': 'td left', 'width': '33%' }, [ r[0] ]),
					E('td', { 'class': 'td left' }, [ r[1] ])
				]);
			})),
			notes.length || devnotes.length ? E('div', { 'class': 'alert-message warning' }, notes.map(function(n) {
				return E('p', [ n, ' ', link(_('What to do')) ]);
			}).concat(devnotes.map(function(n) {
				return E('p', { 'data-devices-note': '' }, [ n, ' ', link(_('What to do'), 'devices') ]);
			}))) : ''
		]);
	}
});
