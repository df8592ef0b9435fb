// Package httpc sends one HTTP/1.1 request per connection and reads the
// reply, for the two clients trustjoin has: the CLI and rpcd calling the
// daemon's API socket, and the MUD fetcher. net/http's Transport (pooled
// connections, proxies, HTTP/2, decompression, redirects) would cost the
// binary a quarter of a megabyte that neither needs; requests and replies
// are still written and read by net/http (Request.Write, ReadResponse).
package httpc
