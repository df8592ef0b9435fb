// STAND-IN: OpenWrt's "hostapd" ubus object (hostapd.uc inside OpenWrt's
// hostapd) in front of Debian's hostapd 2.10, which has no ubus and no
// ucode. OpenWrt's wifi scripts write the configuration file and call
// config_set as they do on a router; this starts Debian's hostapd on that
// file (less the options only OpenWrt's patched hostapd knows and the
// few 2.11 ones main's generator writes on 6 GHz, OpenWrt's random BSS
// colour made a fixed one, each logged), the way OpenWrt did before
// hostapd had ucode (the access point's interface made first with iw,
// then `hostapd -B FILE`),
// and returns its pid, which netifd watches. No live reconfiguration: a
// config_set with another configuration restarts that radio's hostapd
// (OpenWrt's reloads only the parts that changed); one with the same
// configuration leaves it running, as OpenWrt's does. Runs inside the router's
// root; Debian's binary is mounted over /usr/sbin/wpad there, so netifd sees
// the exe it expects.
'use strict';

import * as libubus from 'ubus';
import * as uloop from 'uloop';
import { readfile, writefile, unlink, stat, popen } from 'fs';

const log_file = getenv('LAB_HOSTAPD_LOG') ?? '/var/log/hostapd.log';
const debug = getenv('LAB_HOSTAPD_DEBUG') == '1';

uloop.init();
let ubus = libubus.connect();
let running = {}; // phy -> { pid, config: the file it runs on }

function say(msg)
{
	system(`logger -t hostapd-standin '${msg}'`);
}

function alive(pid)
{
	return !!stat(`/proc/${pid}`);
}

function stop(phy)
{
	let pid = running[phy]?.pid;
	delete running[phy];
	if (!pid || !alive(pid))
		return;
	system(`kill ${pid}`);
	for (let i = 0; i < 100 && alive(pid); i++)
		system('sleep 0.1');
	if (alive(pid))
		system(`kill -9 ${pid}`);
}

function first_interface(file)
{
	let data = readfile(file);
	if (!data)
		return null;
	let m = match(data, /(^|\n)interface=([^\n]+)/);
	return m ? m[2] : null;
}

// Options only OpenWrt's patched hostapd knows (its patches add them);
// Debian's 2.10 refuses a file that has any. The generator writes the
// first three with their default values here (noscan=0, ht_coex=0,
// vlan_no_bridge=0 when vlan_bridge is set); snoop_iface (multicast
// snooping on the LAN bridge, written once the bridge exists) is lost.
const openwrt_only = { noscan: true, ht_coex: true, vlan_no_bridge: true, snoop_iface: true };

// Options of upstream hostapd 2.11 that main's generator writes on 6 GHz
// only (2.10 refuses the file): the regulatory power type and mbssid with
// their defaults, dropped; sae_password_file (2.10 has only sae_password
// lines, so the file's lines become those); and the SAE-EXT-KEY AKM
// (SAE with larger groups), left out of wpa_key_mgmt so plain SAE remains.
// main's scripts never run with a 2.10 on a router; the lab pairs them to
// test trustjoin with 2.10's events.
const newer_only = { he_6ghz_reg_pwr_type: true, mbssid: true };

// debian_config: FILE's text without the OpenWrt-only and 2.11-only lines;
// each change is logged (without passwords).
function debian_config(file)
{
	let data = readfile(file);
	if (!data)
		return null;
	let out = [];
	for (let line in split(data, '\n')) {
		let kv = split(line, '=', 2);
		let key = kv[0];
		if (openwrt_only[key] || newer_only[key]) {
			say(`dropped the line ${line} for Debian's hostapd 2.10`);
			continue;
		}
		if (key == 'sae_password_file') {
			let n = 0;
			for (let pw in split(readfile(kv[1]) ?? '', '\n')) {
				if (!length(trim(pw)) || substr(trim(pw), 0, 1) == '#')
					continue;
				push(out, `sae_password=${pw}`);
				n++;
			}
			say(`sae_password_file ${kv[1]}: its ${n} line(s) written as sae_password for Debian's hostapd 2.10`);
			continue;
		}
		// OpenWrt's patch 465 reads he_bss_color 64 and above as "pick one
		// at random"; 2.10 keeps the low six bits (128: colour 0), which
		// the kernel refuses ("integer out of range", no beacon). A fixed
		// colour, not a random one: a new one on every config_set would
		// look like a changed configuration and restart hostapd.
		if (key == 'he_bss_color' && +kv[1] >= 64) {
			line = 'he_bss_color=37';
			say(`he_bss_color=${kv[1]} (random, OpenWrt's patch) written as 37 for Debian's hostapd 2.10`);
		}
		if (key == 'wpa_key_mgmt' && index(kv[1], 'SAE-EXT-KEY') >= 0) {
			let akms = filter(split(kv[1], ' '), (a) => a != 'SAE-EXT-KEY');
			line = `wpa_key_mgmt=${join(' ', akms)}`;
			say(`left SAE-EXT-KEY out of wpa_key_mgmt for Debian's hostapd 2.10`);
		}
		push(out, line);
	}
	return join('\n', out);
}

// start: hostapd on PHY with CONFIG (debian_config's text), written next
// to FILE as FILE.debian.
function start(phy, file, config)
{
	let ifname = first_interface(file);
	if (!ifname)
		return null;
	file = file + '.debian';
	writefile(file, config);
	if (!stat(`/sys/class/net/${ifname}`))
		system(`iw phy ${phy} interface add ${ifname} type __ap`);
	let pidfile = `/var/run/hostapd-standin-${phy}.pid`;
	unlink(pidfile);
	let rc = system(`/usr/sbin/hostapd -B -t ${debug ? '-d ' : ''}-P ${pidfile} -f ${log_file} ${file}`);
	if (rc != 0) {
		say(`hostapd on ${phy} did not start (exit ${rc})`);
		return null;
	}
	// -B: the parent exits as soon as it has forked, and the child writes
	// the pid file after; read at once, it was often not there yet, the
	// call failed without the pid, netifd asked again and the next hostapd
	// found the first one still on the interface ("Match already
	// configured").
	let pid = 0;
	for (let i = 0; i < 100 && !pid; i++) {
		pid = +trim(readfile(pidfile) ?? '');
		if (!pid)
			system('sleep 0.1');
	}
	if (!pid) {
		say(`hostapd on ${phy} wrote no pid file`);
		return null;
	}
	running[phy] = { pid, config };
	return pid;
}

ubus.publish('hostapd', {
	config_set: {
		args: { phy: '', radio: 0, config: '', prev_config: '' },
		call: function(req) {
			let phy = req.args.phy;
			if (!phy)
				return libubus.STATUS_INVALID_ARGUMENT;
			let config = req.args.config ? debian_config(req.args.config) : null;
			// The same configuration again: hostapd keeps running, as
			// OpenWrt's changes nothing then. netifd sets the radio up
			// again whenever the bridge of the access point's network
			// is made anew (wireless-device.uc: a new ifindex is a
			// configuration change), and a hostapd stopped takes its
			// interface out of that bridge, which then goes; restarted
			// on every call, that never ended (a setup every 2 to 10 s).
			let cur = running[phy];
			if (config && cur && cur.config == config && alive(cur.pid)) {
				say(`config_set ${phy}: ${req.args.config} unchanged, hostapd ${cur.pid} keeps running`);
				return { pid: cur.pid };
			}
			stop(phy);
			if (!req.args.config)
				return { pid: 0 };
			say(`config_set ${phy}: ${req.args.config}`);
			if (config == null)
				return libubus.STATUS_UNKNOWN_ERROR;
			let pid = start(phy, req.args.config, config);
			if (!pid)
				return libubus.STATUS_UNKNOWN_ERROR;
			return { pid };
		}
	},
	// netifd asks this when an MLO configuration changes; none here.
	mld_set: {
		args: { config: {} },
		call: function(req) {
			return 0;
		}
	},
});

uloop.run();
