// Package httpc sends one HTTP/1.1 request per connection and reads the
// reply, for the two clients trustjoin has: the CLI and rpcd calling the
// daemon's API socket, and the MUD fetcher. net/http (its Transport with
// pooled connections, proxies, decompression and redirects, and the
// Unicode tables for internationalised host names its init keeps) would
// cost the binary far more than either needs; replies are read by
// package httpd's ReadResponse, strict as its server.
package httpc
