// Package brski is the router's BRSKI (RFC 8995) join proxy: it lets a
// pledge on the LAN, which knows only link-local addresses, reach the
// household's registrar. The circuit proxy relays each pledge's TCP
// connection byte for byte to the registrar and nowhere else, never looking
// inside TLS; GRASP M_FLOOD announcements tell pledges where it listens; the
// constrained, stateless proxy relays CoAP/DTLS datagrams wrapped in JPY
// messages whose header carries the pledge's address sealed with a key only
// the proxy holds.
package brski
