// Command gen writes trustjoin's TR-069 data model files for a vendor
// prefix: the bbfdm JSON plugin, or with -easycwmp the easycwmp function
// script:
//
//	go run ./src/internal/tr069/gen -vendor EXAMPLE-COM -o X_EXAMPLE-COM_TrustJoin.json
//	go run ./src/internal/tr069/gen -vendor EXAMPLE-COM -easycwmp -o trustjoin
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
	easycwmp := flag.Bool("easycwmp", false, "write the easycwmp function script instead of the bbfdm plugin")
	out := flag.String("o", "", "output file (stdout when empty)")
	flag.Parse()
	gen, mode := tr069.BBFDM, os.FileMode(0o644)
	if *easycwmp {
		gen = tr069.EasyCWMP
	}
	b, err := gen(*vendor)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !*easycwmp {
		b = append(b, '\n')
	}
	if *out == "" {
		os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, mode); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
