// Package brski is the router's BRSKI (RFC 8995) join proxy: it lets a
// pledge on the LAN, which knows only link-local addresses, reach the
// household's registrar, and nothing else.
//
// Proxy is the circuit proxy of RFC 8995 §4: it listens on each join
// interface's IPv6 link-local address (and IPv4 if asked) and relays each
// pledge's TCP connection byte for byte to the registrar, never looking
// inside TLS (on Linux by splice(2), the bytes never copied into the
// proxy), with caps overall and per source and idle and total timeouts.
// An idle relay holds no buffer and no pipe. It announces itself with GRASP
// M_FLOOD AN_Proxy to ff02::13 UDP 7017 and answers _brski-proxy._tcp by
// mDNS; without a configured registrar it finds one by mDNS
// (_brski-registrar._tcp) on the other interfaces, never on the join ones.
//
// Stateless is the constrained join proxy of
// draft-ietf-anima-constrained-join-proxy in stateless mode: it relays
// pledges' DTLS datagrams to the registrar's JPY port wrapped in
// [header, payload], the header sealing the pledge's address under keys
// that never leave memory: 24 bytes, the same for every datagram of one
// pledge flow (the registrar keys its DTLS connections by it) until the
// key rotates, and opened only by the proxy. It answers CoAP discovery
// (/.well-known/core?brski-jp) and, by unicast, whatever RFC 7252 asks.
// With an authorisation hook, it asks it once per pledge address and keeps
// the answer for a while.
//
// Both proxies are ready once they listen on every join interface.
package brski
