# luci: LuCI's runtime as its packages install it (luci.mk's install step):
# luci-base (the JS runtime under /www, the ucode dispatcher and templates
# under /usr/share/ucode/luci, the rpcd "luci" object, ACLs, menu, config)
# with its C helper and lucihttp, luci-mod-status, luci-mod-system and the
# bootstrap theme. Not minified (luci.mk's JsMin/CssTidy are options).
#
# One STAND-IN: luci-base needs ucode-mod-html (OpenWrt's
# package/utils/ucode-mod-html, not among the source archives) for two
# functions, striptags and entityencode, used on page titles and form
# values; here a ucode module of ours does the same (html.uc below).
#
# Not here: cgi-io (/cgi-bin/cgi-exec, luci-base's dependency; not among
# the source archives). LuCI's Save & Apply asks it whether a change cuts the
# browser's connection and takes its absence as "no".
#
# The packages' maintainer scripts are not run here: luci-base's postinst
# (uhttpd's ucode_prefix for /cgi-bin/luci), uhttpd-mod-ubus's uci-defaults
# (ubus_prefix /ubus) and the theme's uci-defaults are for a test to run in
# the root, as the packages would on a router.
archive=luci
deps="luci-base lucihttp"
apt=""
build() {
	local m v=git-24.262.470bb2b
	for m in modules/luci-base modules/luci-mod-status modules/luci-mod-system themes/luci-theme-bootstrap; do
		if [ -d "$m/htdocs" ]; then
			mkdir -p "$DEST/www"
			cp -pR "$m/htdocs/." "$DEST/www/"
		fi
		if [ -d "$m/ucode" ]; then
			mkdir -p "$DEST/usr/share/ucode/luci"
			cp -pR "$m/ucode/." "$DEST/usr/share/ucode/luci/"
		fi
		if [ -d "$m/root" ]; then
			cp -pR "$m/root/." "$DEST/"
		fi
	done
	# luci.mk's SubstituteVersion: the version into templates' script and
	# style links (cache busting).
	find "$DEST/usr/share/ucode/luci" -type f -name '*.ut' -exec sed -i \
		-e "s/{# *\([^ ]*\)PKG_VERSION *#}/\1$v/g" \
		-e "s/\"\({{ *\(media\|resource\) *}}[^\"]*\.\(js\|css\)\)\"/\"\1?v=$v\"/g" {} +
	rm -f "$DEST/etc/luci-uploads/.placeholder"
	chmod 0755 "$DEST/www/cgi-bin/luci" "$DEST/etc/init.d/ucitrack" 2>/dev/null || true

	# STAND-IN for ucode-mod-html's striptags and entityencode.
	mkdir -p "$DEST/usr/share/ucode"
	cat > "$DEST/usr/share/ucode/html.uc" <<'UC'
// STAND-IN for OpenWrt's ucode-mod-html (not among the source archives;
// scripts/openwrt/recipes/luci.sh): the two functions luci-base uses.
'use strict';

// striptags removes tags (what LuCI passes it: titles, host names).
export function striptags(s) {
	return replace(`${s ?? ''}`, /<[^>]*>?/g, '');
};

// entityencode escapes &, <, > and, when quotes is true, " and '.
export function entityencode(s, quotes) {
	s = replace(`${s ?? ''}`, '&', '&amp;');
	s = replace(s, '<', '&lt;');
	s = replace(s, '>', '&gt;');
	if (quotes) {
		s = replace(s, '"', '&#34;');
		s = replace(s, "'", '&#39;');
	}
	return s;
};
UC
}
