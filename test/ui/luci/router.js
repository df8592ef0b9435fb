// An OpenWrt router for the LuCI tests, made of OpenWrt's real userland
// (scripts/openwrt: built from ../shared/openwrt-src) and booted in
// namespaces of its own (scripts/openwrt/chroot.sh): ubusd, procd as the
// service manager, rpcd (sessions, ACLs, exec plugins), uhttpd with LuCI's
// ucode dispatcher and /ubus, LuCI's luci-base, status and system modules
// and bootstrap theme (root.sh --with luci), and trustjoin and
// luci-app-trustjoin installed from their .ipk files by opkg, the daemon
// started by procd. The one stand-in is the radio: the phone tests' fake
// hostapd (test/ui/phone/helper) answers on /var/run/hostapd/wlan0, so a
// device can be added without one. Chromium runs in the router's network,
// where the router is http://192.168.1.1.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFile, execFileSync } = require('node:child_process');

const root = path.join(__dirname, '../../..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VERSION = '1.0.0-r1';
const LAN = '192.168.1.1';

// LuCI users, as rpcd logins. root has every ACL (OpenWrt's stock login,
// with the system password); viewer may read trustjoin's pages but change
// nothing; guest may use LuCI but was not granted trustjoin's ACL.
// Every LuCI user needs rpcd's "unauthenticated" group too: it grants
// session/access, which LuCI calls on any refused call to tell a refusal
// from an expired session, and luci/getFeatures.
const users = {
	root: { password: 'router-admin-1' },
	viewer: { password: 'viewer-2', read: [ 'unauthenticated', 'luci-base', 'luci-mod-*', 'luci-app-trustjoin' ], write: [] },
	guest: { password: 'guest-3', read: [ 'unauthenticated', 'luci-base', 'luci-mod-*' ], write: [ 'luci-base' ] }
};

// skipReason says why these tests cannot run here, or false.
function skipReason() {
	if (process.getuid() !== 0)
		return 'needs root (chroot and namespaces)';
	if (!fs.existsSync(CHROMIUM))
		return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`;
	return false;
}

function run(cmd, args, opts = {}) {
	return new Promise((resolve, reject) => {
		execFile(cmd, args, Object.assign({ maxBuffer: 64 << 20, timeout: 900000 }, opts), (err, stdout, stderr) => {
			if (err)
				reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
			else
				resolve(stdout);
		});
	});
}

function crypt(password) {
	return execFileSync('openssl', [ 'passwd', '-6', password ], { encoding: 'utf8' }).trim();
}

// boot is PID 1 of the router: the daemons a booted OpenWrt with LuCI runs,
// then trustjoin installed as a householder would, then it waits (reaping
// orphans) until killed.
function bootScript() {
	const logins = Object.entries(users).filter(([ u ]) => u !== 'root').map(([ u, x ]) => [
		`s=$(uci add rpcd login)`,
		`uci set rpcd.$s.username='${u}'`,
		`uci set rpcd.$s.password='${crypt(x.password)}'`
	].concat(x.read.map((a) => `uci add_list rpcd.$s.read='${a}'`), x.write.map((a) => `uci add_list rpcd.$s.write='${a}'`)).join('\n')).join('\n');
	return `
set -e
ip link set lo up
ip addr add ${LAN}/24 dev lo
mkdir -p /var/run/ubus
ubusd &
n=0; until ubus list >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 300 ] || { echo "no ubusd"; exit 1; }; sleep 0.05; done
procd -S >/tmp/procd.log 2>&1 &
rpcd &
n=0; until ubus list service >/dev/null 2>&1 && ubus list session >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 300 ] || { echo "no procd/rpcd"; exit 1; }; sleep 0.05; done
/sbin/reload_config

# LuCI as its packages install it: uhttpd-mod-ubus's uci-defaults (the
# /ubus prefix), luci-base's postinst (LuCI's ucode handler), the theme's
# uci-defaults.
[ -n "$(uci -q get uhttpd.main.ubus_prefix)" ] || uci set uhttpd.main.ubus_prefix=/ubus
uci add_list uhttpd.main.ucode_prefix='/cgi-bin/luci=/usr/share/ucode/luci/uhttpd.uc'
uci commit uhttpd
(cd /etc/uci-defaults && . ./30_luci-theme-bootstrap) && rm -f /etc/uci-defaults/30_luci-theme-bootstrap

# The users: root's system password, and two more logins.
sed -i 's|^root:[^:]*:|root:${crypt(users.root.password)}:|' /etc/shadow
${logins}
uci commit rpcd

# The radio: a fake hostapd on wlan0.
/usr/bin/tj-fake-hostapd hostapd -dir /var/run/hostapd -psk /etc/trustjoin/psk/wlan0.psk -log /tmp/hostapd.log &

opkg install /root/trustjoin.ipk /root/luci-app-trustjoin.ipk
/etc/init.d/uhttpd enable
/etc/init.d/uhttpd start
# Ready: the daemon says so, and LuCI's dispatcher answers (its login
# page comes as 403 Forbidden; busybox wget shows no more of it).
n=0; until trustjoin status --json 2>/dev/null | grep -q '"ready": true' &&
	wget -S -O /dev/null http://${LAN}/cgi-bin/luci/ 2>&1 | grep -q 'HTTP/1.1 403'; do
	n=$((n+1)); [ $n -lt 600 ] || { echo "not ready"; cat /tmp/procd.log; trustjoin status; wget -S -O /dev/null http://${LAN}/cgi-bin/luci/; exit 1; }; sleep 0.1
done
echo READY
set +e
wait
`;
}

// start builds what the router needs (the packages, the root, the fake
// hostapd) in work and boots it.
async function start(work) {
	fs.mkdirSync(work, { recursive: true });
	const env = Object.assign({}, process.env, { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' });
	const dir = path.join(work, 'root');
	await Promise.all([
		run(path.join(root, 'scripts/build/ipk.sh'), [], {
			cwd: root, env: Object.assign({}, env, { IPK_OUT: path.join(work, 'ipk'), IPK_BIN: path.join(work, 'bin'), IPK_ARCHS: 'x86_64', VERSION })
		}),
		run('go', [ 'build', '-o', path.join(work, 'helper'), './test/ui/phone/helper' ], { cwd: root, env }),
		run(path.join(root, 'scripts/openwrt/root.sh'), [ dir, '--with', 'luci' ], { cwd: root })
	]);
	fs.copyFileSync(path.join(work, 'ipk', `trustjoin_${VERSION}_x86_64.ipk`), path.join(dir, 'root/trustjoin.ipk'));
	fs.copyFileSync(path.join(work, 'ipk', `luci-app-trustjoin_${VERSION}_all.ipk`), path.join(dir, 'root/luci-app-trustjoin.ipk'));
	fs.copyFileSync(path.join(work, 'helper'), path.join(dir, 'usr/bin/tj-fake-hostapd'));
	fs.chmodSync(path.join(dir, 'usr/bin/tj-fake-hostapd'), 0o755);
	fs.writeFileSync(path.join(dir, 'root/boot.sh'), bootScript(), { mode: 0o755 });

	const proc = spawn(path.join(root, 'scripts/openwrt/chroot.sh'), [ dir, '/bin/sh', '/root/boot.sh' ], { stdio: [ 'ignore', 'pipe', 'pipe' ] });
	let log = '';
	proc.stdout.on('data', (b) => { log += b });
	proc.stderr.on('data', (b) => { log += b });
	const exited = new Promise((r) => proc.on('exit', r));
	await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error('the router did not boot in 180 s:\n' + log)), 180000);
		const check = () => {
			if (/^READY$/m.test(log)) {
				clearTimeout(t);
				resolve();
			}
		};
		proc.stdout.on('data', check);
		exited.then((code) => { clearTimeout(t); reject(new Error(`the router stopped (${code}):\n${log}`)) });
	});
	// chroot.sh execs unshare, whose one child is the router's PID 1.
	const init = Number(fs.readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
	if (!init)
		throw new Error('no router process under ' + proc.pid);

	const wrapper = path.join(work, 'chromium');
	fs.writeFileSync(wrapper, `#!/bin/sh\n# Chromium in the router's network namespace.\nexec nsenter --net=/proc/${init}/ns/net -- ${CHROMIUM} "$@"\n`, { mode: 0o755 });

	return {
		url: `http://${LAN}`,
		dir,
		users,
		version: VERSION,
		chromium: wrapper,
		log: () => log,
		// sh runs a script in the router (its file system, processes and
		// network) and gives its output; a failing script rejects.
		sh: (script) => run('nsenter', [ '-t', String(init), '-m', '-n', '-p', '-r', '-w', '--',
			'/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', '/bin/sh', '-c', script ]),
		// ip runs the host's iproute2 in the router's network (busybox's
		// ip in the root makes no veth and no neighbour entry).
		ip: (...args) => run('nsenter', [ '--net=/proc/' + init + '/ns/net', '--', 'ip', ...args ]),
		stop: async () => {
			try {
				process.kill(init, 'SIGKILL');
			}
			catch (e) {
				// gone already
			}
			await exited;
		}
	};
}

module.exports = { start, skipReason, CHROMIUM, VERSION };
