'use strict';
'require view';
'require form';
'require uci';

// Segments & policy: a form over /etc/config/trustjoin. Saving stages the
// change in rpcd; Save & Apply commits it and reloads trustjoin (the init
// script reacts to config.change). The daemon checks the whole file and
// keeps the last good configuration when it refuses one: the Status tab
// says so.

return view.extend({
	load: function() {
		return uci.load('trustjoin');
	},

	render: function() {
		var m, s, o;
		var segs = (uci.sections('trustjoin', 'segment') || []).map(function(s) { return s['.name'] });

		m = new form.Map('trustjoin', _('Segments & policy'),
			_('A segment is a group of devices with its own VLAN and rules: what it may reach and whether it gets to the internet. Devices you add are put in a segment; a quarantined device is moved to the quarantine segment.'));

		s = m.section(form.TypedSection, 'segment', _('Segments'));
		s.anonymous = false;
		s.addremove = true;
		s.addbtntitle = _('Add segment');

		o = s.option(form.Value, 'vlan', _('VLAN ID'), _('1 to 4094, different for every segment.'));
		o.datatype = 'range(1,4094)';
		o.rmempty = false;

		o = s.option(form.Flag, 'internet', _('Internet access'));
		o.default = '1';
		o.rmempty = false;

		o = s.option(form.DynamicList, 'reach', _('May reach segments'), _('Devices in this segment may open connections to devices in these segments.'));
		segs.forEach(function(name) { o.value(name) });

		o = s.option(form.Flag, 'isolate', _('Isolate devices'), _('Devices in this segment cannot talk to each other.'));
		o.default = '0';

		o = s.option(form.Flag, 'quarantine', _('Quarantine segment'), _('Quarantined devices are moved here. Exactly one segment should have this.'));
		o.default = '0';

		// Where the segment's traffic runs: the Wi-Fi side needs none of
		// these (the access point makes its own VLAN interfaces).
		o = s.option(form.DynamicList, 'interface', _('Interfaces'), _('Network interfaces carrying this segment. Empty: those the Wi-Fi access points make for its VLAN.'));
		o.optional = true;

		o = s.option(form.Value, 'bridge', _('Bridge'), _('A bridge trustjoin creates for this segment, such as br-iot. Empty: none.'));
		o.optional = true;

		o = s.option(form.Value, 'uplink', _('Wired uplink'), _('A wired port the segment also runs on, tagged with its VLAN ID, such as eth0. Needs a bridge.'));
		o.optional = true;

		s = m.section(form.TypedSection, 'controller', _('Controllers'),
			_('Hubs and controllers on your network that device profiles may let devices reach: for example the hub of your light bulbs. Without one here, a profile asking for a controller is given nothing.'));
		s.anonymous = false;
		s.addremove = true;
		s.addbtntitle = _('Add controller');

		o = s.option(form.DynamicList, 'address', _('Addresses'), _('The controller’s IP addresses.'));
		o.datatype = 'ipaddr';

		o = s.option(form.DynamicList, 'mud_url', _('For devices with profile'), _('The controller is “my controller” for devices naming these profile (MUD) addresses.'));

		o = s.option(form.DynamicList, 'class', _('Controller kinds'), _('The controller is one of these kinds (URIs named in device profiles).'));

		s = m.section(form.NamedSection, 'onboarding', 'onboarding', _('Adding devices'));
		s.addremove = false;

		o = s.option(form.ListValue, 'default_segment', _('Default segment'), _('Where a new device goes unless you choose another.'));
		segs.forEach(function(name) { o.value(name) });

		o = s.option(form.Flag, 'legacy_passphrase', _('Allow devices without Wi-Fi Easy Connect'),
			_('Such a device gets its own passphrase, shown once. This is less safe: anyone who sees the passphrase can join as that device.'));
		o.default = '0';

		s = m.section(form.NamedSection, 'mud', 'mud', _('Device profiles (MUD)'),
			_('A device may name a profile (RFC 8520) saying what it needs to reach; trustjoin then lets it reach only that.'));
		s.addremove = false;

		o = s.option(form.ListValue, 'signature_policy', _('Unsigned profiles'));
		o.value('require', _('Refuse them'));
		o.value('approve', _('Apply once I approve them'));
		o.value('allow', _('Apply them, with a warning'));
		o.default = 'approve';

		o = s.option(form.DynamicList, 'trust_anchor', _('Trusted signers'), _('Files with the certificates profile signatures must chain to.'));
		o.datatype = 'file';

		s = m.section(form.NamedSection, 'web', 'web', _('Phone page'),
			_('The small web page your phone opens to add a device. It answers only on these home-network addresses, never on the internet side.'));
		s.addremove = false;

		o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = '0';

		o = s.option(form.DynamicList, 'listen', _('Listen on'), _('Address and port on the home network, such as 192.168.1.1:8099.'));
		o.datatype = 'ipaddrport(1)';

		return m.render();
	}
});
