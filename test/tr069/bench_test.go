package tr069_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Pushing 1000 pre-authorised devices through the real bbfdm, against
// writing the same UCI sections by hand with one `uci batch`: each from
// the first write until trustjoin has applied them all. A figure for
// `make bench` (TJ_BENCH_TR069=1), never a pass/fail test.
func TestBenchPreauth(t *testing.T) {
	if os.Getenv("TJ_BENCH_TR069") == "" {
		t.Skip("a benchmark: make bench (TJ_BENCH_TR069=1)")
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("TJ_BENCH_TR069_DEVICES")); err == nil && v > 0 {
		n = v
	}
	b := startBBFDM(t, "24.10")
	uris := make([]string, n)
	for i := range uris {
		uris[i] = dppURI(t)
	}
	applied := func(before int) {
		t.Helper()
		b.log.waitFor(t, fmt.Sprintf("added=%d entries=%d", n, n), before+1)
	}
	pattern := fmt.Sprintf("added=%d entries=%d", n, n)

	// By hand: the sections in one batch, then the reload.
	var batch strings.Builder
	for i, u := range uris {
		fmt.Fprintf(&batch, "set trustjoin.hand_%d=preauth\nset trustjoin.hand_%d.uri='%s'\nset trustjoin.hand_%d.segment='iot'\nset trustjoin.hand_%d.name='Device %d'\n", i, i, u, i, i, i)
	}
	batch.WriteString("commit trustjoin\n")
	b.write("tmp/batch", batch.String(), 0o600)
	before := b.log.count(pattern)
	start := time.Now()
	b.sh("uci batch < /tmp/batch")
	batchDone := time.Since(start)
	b.sh("/etc/init.d/trustjoin reload")
	applied(before)
	byHand := time.Since(start)

	// Gone again, the same way.
	var del strings.Builder
	for i := range uris {
		fmt.Fprintf(&del, "delete trustjoin.hand_%d\n", i)
	}
	del.WriteString("commit trustjoin\n")
	b.write("tmp/batch", del.String(), 0o600)
	ready := b.log.count("msg=ready")
	b.sh("uci batch < /tmp/batch && /etc/init.d/trustjoin reload")
	b.log.waitFor(t, "msg=ready", ready+1)

	// Through bbfdm, as a USP agent adds them (one Add with its values per
	// device, one commit): one `ubus call` each, from one shell.
	var script strings.Builder
	for i, u := range uris {
		fmt.Fprintf(&script, `ubus call bbfdm add '{"path":"%sPreAuthorized.","obj_path":{"URI":"%s","Segment":"iot","Name":"Device %d"},"optional":{"proto":"usp"}}' >/dev/null || exit 1`+"\n", root, u, i)
	}
	script.WriteString(`ubus call bbf.config commit '{"proto":"usp"}' >/dev/null` + "\n")
	b.write("tmp/push.sh", script.String(), 0o600)
	before = b.log.count(pattern)
	start = time.Now()
	b.sh("sh /tmp/push.sh")
	agentDone := time.Since(start)
	applied(before)
	viaAgent := time.Since(start)
	if v := b.value(root + "PreAuthorizedNumberOfEntries"); v != strconv.Itoa(n) {
		t.Fatalf("%s pre-authorised through bbfdm, want %d", v, n)
	}
	fmt.Printf("tr069: %d pre-authorised devices through bbfdm %.1f s (%.1f s of them in bbfdm, the rest committing and trustjoin applying them), by hand with uci batch %.1f s (%.1f s of them in uci): ratio %.1f\n",
		n, viaAgent.Seconds(), agentDone.Seconds(), byHand.Seconds(), batchDone.Seconds(), viaAgent.Seconds()/byHand.Seconds())
}
