// Package httpd is the small HTTP/1.1 server trustjoin serves its API
// socket and the phone pages with, and the message format its one client
// (package httpc) shares. net/http would cost the router's binary half a
// megabyte (its server and client, and the Unicode tables for
// internationalised host names that its init keeps) for far more than
// either needs: requests here are small, come with their whole body
// announced (Content-Length), and are answered whole.
//
// It is strict with what it reads, as anything on the LAN may talk to the
// phone pages: a request line in origin form with HTTP/1.0 or 1.1, header
// names that are tokens with no space before the colon, no folded lines,
// no bare CR, no NUL, one Host; bodies only with a Content-Length (a
// Transfer-Encoding is refused, so no two framings can disagree), bounded
// head and body sizes, and timeouts for the head, the body, the reply and
// idle keep-alive connections. What it refuses gets a 4xx (or 501, 505)
// and the connection is closed. Replies are sent with their length:
// buffered, or streamed once large if the handler set it; a panicking
// handler's connection is closed.
package httpd
