// Writes luci-app/htdocs/luci-static/resources/trustjoin/jsQR.js: jsQR
// (Apache-2.0, the version pinned in package.json) minified with terser.
// `node vendor-jsqr.js --check` exits 1 when the committed file differs
// from what this makes, so the vendored file provably is that build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { minify } = require('terser');

const out = path.join(__dirname, '../../../luci-app/htdocs/luci-static/resources/trustjoin/jsQR.js');

async function build() {
	const src = fs.readFileSync(require.resolve('jsqr/dist/jsQR.js'), 'utf8');
	const version = require('jsqr/package.json').version;
	const res = await minify(src, { compress: true, mangle: true, format: { comments: false } });
	return `/*! jsQR ${version} | Apache-2.0 (jsQR.LICENSE beside this file) | https://github.com/cozmo/jsQR | minified with terser */\n` + res.code + '\n';
}

module.exports = { build, out };

if (require.main === module) {
	build().then((code) => {
		if (process.argv.includes('--check')) {
			if (fs.readFileSync(out, 'utf8') !== code) {
				console.error(`${out} is not the minified jsQR build; run node vendor-jsqr.js`);
				process.exit(1);
			}
			return;
		}
		fs.writeFileSync(out, code);
		fs.copyFileSync(require.resolve('jsqr/LICENSE'), path.join(path.dirname(out), 'jsQR.LICENSE'));
		console.log(`wrote ${out} (${code.length} bytes)`);
	});
}
