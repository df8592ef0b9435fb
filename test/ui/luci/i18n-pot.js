// Writes luci-app/po/templates/trustjoin.pot, the translation template
// luci.mk's translations are made from: every _('...') in the views and
// every menu title, in order of first use (files named, not lines, so
// an edit elsewhere does not change the template). `--check` exits 1 when the
// committed template is not what this makes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const app = path.join(__dirname, '../../../luci-app');
const out = path.join(app, 'po/templates/trustjoin.pot');
const { viewFiles } = require('./harness');
const menu = path.join(app, 'root/usr/share/luci/menu.d/luci-app-trustjoin.json');

function strings() {
	const seen = new Map();
	const add = (s, where) => {
		if (!seen.has(s))
			seen.set(s, []);
		seen.get(s).push(where);
	};
	// The views, then the app's own classes (trustjoin/*.js, but the
	// vendored jsQR).
	const classDir = path.join(app, 'htdocs/luci-static/resources/trustjoin');
	const classes = fs.readdirSync(classDir).filter((f) => f.endsWith('.js') && f !== 'jsQR.js').sort()
		.map((f) => ({ where: `htdocs/luci-static/resources/trustjoin/${f}`, src: fs.readFileSync(path.join(classDir, f), 'utf8') }));
	for (const { where, src } of viewFiles().map(({ file, src }) => ({ where: `htdocs/luci-static/resources/view/${file}`, src })).concat(classes))
		for (const m of src.matchAll(/_\('((?:[^'\\]|\\.)*)'\)/g))
			add(m[1].replace(/\\'/g, "'"), where);
	for (const v of Object.values(JSON.parse(fs.readFileSync(menu, 'utf8'))))
		add(v.title, 'root/usr/share/luci/menu.d/luci-app-trustjoin.json');
	return seen;
}

function build() {
	const q = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
	let pot = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8"\n';
	for (const [ s, where ] of strings())
		pot += `\n#: ${[ ...new Set(where) ].join(' ')}\nmsgid ${q(s)}\nmsgstr ""\n`;
	return pot;
}

module.exports = { build, out, strings };

if (require.main === module) {
	const pot = build();
	if (process.argv.includes('--check')) {
		if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== pot) {
			console.error(`${out} is out of date; run node test/ui/luci/i18n-pot.js`);
			process.exit(1);
		}
		process.exit(0);
	}
	fs.mkdirSync(path.dirname(out), { recursive: true });
	fs.writeFileSync(out, pot);
	console.log(`wrote ${out} (${strings().size} strings)`);
}
