package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/qr"
)

func init() {
	commands["phone"] = command{summary: "add a device from your phone: show a one-time link (revoke ID to cancel it)", run: runPhone}
}

func runPhone(ctx context.Context, env Env) int {
	f := newClientFlags("phone", env)
	if f.fs.Parse(env.Args) != nil {
		return 2
	}
	switch args := f.fs.Args(); {
	case len(args) == 0:
		var p api.PhoneSession
		return f.call(ctx, env, "POST", "/v1/phone", nil, &p, func(w io.Writer) {
			if q, err := qr.New(p.URL); err == nil {
				fmt.Fprint(w, q)
			}
			fmt.Fprintf(w, "Scan this code with your phone's camera, or open %s\n", p.URL)
			fmt.Fprintf(w, "It works once, on the first phone that opens it, until %s.\n", p.ExpiresAt.Local().Format("15:04"))
			fmt.Fprintf(w, "To cancel it: trustjoin phone revoke %s\n", p.ID)
		})
	case len(args) == 2 && args[0] == "revoke":
		var out map[string]string
		return f.call(ctx, env, "DELETE", "/v1/phone/"+url.PathEscape(args[1]), nil, &out, func(w io.Writer) {
			fmt.Fprintf(w, "phone link %s cancelled\n", args[1])
		})
	}
	fmt.Fprintln(env.Stderr, "usage: trustjoin phone [--json] | trustjoin phone revoke ID")
	return 2
}
