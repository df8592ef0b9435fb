package brski

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A netns is a network namespace made for one test; its name starts with
// tjbr- so leftovers are easy to tell.
type netns string

// newNetns creates a namespace with lo up, removed when the test ends.
func newNetns(t *testing.T, role string) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (run the tests as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2")
	}
	b := make([]byte, 3)
	rand.Read(b)
	ns := netns("tjbr-" + role + "-" + hex.EncodeToString(b))
	sh(t, "ip", "netns", "add", string(ns))
	t.Cleanup(func() { exec.Command("ip", "netns", "del", string(ns)).Run() })
	ns.sh(t, "ip", "link", "set", "lo", "up")
	return ns
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (ns netns) sh(t *testing.T, args ...string) {
	t.Helper()
	sh(t, append([]string{"ip", "netns", "exec", string(ns)}, args...)...)
}

// veth links a in namespace na with b in nb. Each end gets only the
// link-local addresses given (no automatic one, no DAD delay), so nothing
// but link-local traffic is possible.
func veth(t *testing.T, na netns, a string, aAddrs []string, nb netns, b string, bAddrs []string) {
	t.Helper()
	sh(t, "ip", "link", "add", a, "netns", string(na), "type", "veth", "peer", "name", b, "netns", string(nb))
	for _, end := range []struct {
		ns    netns
		name  string
		addrs []string
	}{{na, a, aAddrs}, {nb, b, bAddrs}} {
		end.ns.sh(t, "ip", "link", "set", end.name, "addrgenmode", "none")
		for _, ad := range end.addrs {
			end.ns.sh(t, "ip", "-6", "addr", "add", ad+"/64", "dev", end.name, "nodad")
		}
		end.ns.sh(t, "ip", "link", "set", end.name, "up")
	}
	// Wait for the kernel to route multicast on both ends (the link is
	// up once the peer is), so GRASP floods can go out.
	for _, end := range []struct {
		ns   netns
		name string
	}{{na, a}, {nb, b}} {
		waitFor(t, "multicast route on "+end.name, func() bool {
			out, _ := exec.Command("ip", "-n", string(end.ns), "-6", "route", "show", "table", "local", "dev", end.name).Output()
			return strings.Contains(string(out), "multicast")
		})
	}
}

// do runs f on an OS thread switched into ns: sockets made there belong to
// ns for their whole life, whichever goroutine uses them later.
func (ns netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not unlocked on failure to switch back: the thread then dies
		// with the goroutine instead of serving others in the wrong ns.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + string(ns))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// nsNetwork is the proxy's network inside a namespace.
type nsNetwork struct{ ns netns }

// byIndex replaces an interface name as zone in address by its index,
// looked up inside the namespace: Go caches names process-wide, and this
// process spans namespaces, so a name could resolve in the wrong one.
// It must run inside ns.do.
func byIndex(address string) (string, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || ap.Addr().Zone() == "" {
		return address, nil
	}
	if _, err := strconv.Atoi(ap.Addr().Zone()); err == nil {
		return address, nil
	}
	ifi, err := net.InterfaceByName(ap.Addr().Zone())
	if err != nil {
		return "", err
	}
	return netip.AddrPortFrom(ap.Addr().WithZone(strconv.Itoa(ifi.Index)), ap.Port()).String(), nil
}

func (n nsNetwork) Listen(ctx context.Context, network, address string) (ln net.Listener, err error) {
	err = n.ns.do(func() error {
		if address, err = byIndex(address); err == nil {
			ln, err = hostNetwork{}.Listen(ctx, network, address)
		}
		return err
	})
	return ln, err
}

func (n nsNetwork) ListenPacket(ctx context.Context, network, address string) (pc net.PacketConn, err error) {
	err = n.ns.do(func() error {
		if address, err = byIndex(address); err == nil {
			pc, err = hostNetwork{}.ListenPacket(ctx, network, address)
		}
		return err
	})
	return pc, err
}

func (n nsNetwork) Dial(ctx context.Context, network, address string) (c net.Conn, err error) {
	err = n.ns.do(func() error {
		if address, err = byIndex(address); err == nil {
			c, err = hostNetwork{}.Dial(ctx, network, address)
		}
		return err
	})
	return c, err
}

func (n nsNetwork) Interface(name string) (ifi *net.Interface, addrs []netip.Addr, err error) {
	err = n.ns.do(func() error { ifi, addrs, err = hostNetwork{}.Interface(name); return err })
	return ifi, addrs, err
}

func (n nsNetwork) Interfaces() (ifs []net.Interface, err error) {
	err = n.ns.do(func() error { ifs, err = net.Interfaces(); return err })
	return ifs, err
}

func (n nsNetwork) ListenShared(ctx context.Context, network, address string) (pc net.PacketConn, err error) {
	err = n.ns.do(func() error { pc, err = hostNetwork{}.ListenShared(ctx, network, address); return err })
	return pc, err
}
