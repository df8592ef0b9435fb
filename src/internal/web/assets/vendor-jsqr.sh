#!/bin/sh
# Refreshes jsqr.js.gz, the QR decoder the phone page runs (jsQR by Cosmo
# Wolfe, Apache-2.0, see jsqr.LICENSE), from npm. It is kept gzip-compressed
# (45 kB instead of 257 kB: pigz -11 is zopfli, 11 kB less than gzip -9, and
# every gzip reader takes it) and served as is, to spare the router's flash.
# The page decodes the photo on the phone: the picture never leaves it and
# the router needs no image decoder (a pure-Go QR reader would cost more
# flash than this file).
set -eu
version=1.4.0
sum=bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859 # dist/jsQR.js
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "jsqr@$version" >/dev/null && tar xzf "jsqr-$version.tgz")
echo "$sum  $tmp/package/dist/jsQR.js" | sha256sum -c -
pigz -11 -n -c "$tmp/package/dist/jsQR.js" >jsqr.js.gz # Debian: apt-get install pigz
cp "$tmp/package/LICENSE" jsqr.LICENSE
