package build

// Version is set at link time with
// -ldflags "-X github.com/trustjoin/trustjoin/src/internal/build.Version=...".
// A binary built without it (go run, go test) reports "devel".
var Version = "devel"
