// Command gen writes trustjoin's bbfdm JSON plugin for a vendor prefix:
//
//	go run ./src/internal/tr069/gen -vendor EXAMPLE-COM -o X_EXAMPLE-COM_TrustJoin.json
//
// The ISP picks the vendor (TR-106: its OUI or its upper-case domain).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/trustjoin/trustjoin/src/internal/tr069"
)

func main() {
	vendor := flag.String("vendor", "TRUSTJOIN", "TR-106 vendor prefix")
	out := flag.String("o", "", "output file (stdout when empty)")
	flag.Parse()
	b, err := tr069.BBFDM(*vendor)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	b = append(b, '\n')
	if *out == "" {
		os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
