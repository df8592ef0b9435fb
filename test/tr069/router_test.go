package tr069_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repo is the checkout's root.
var repo, _ = filepath.Abs("../..")

// agents are the recipes (scripts/openwrt/recipes) the routers add to
// OpenWrt's core userland: the two TR-069 agents.
const agents = "bbfdm easycwmp"

// rootTemplate is an OpenWrt-like root of a release
// (scripts/openwrt/root.sh: OpenWrt's userland and the agents built from
// openwrt-src, the release's base-files, procd and rpcd scripts), made once
// per release and test binary; each router copies it.
var rootTemplate = func() func(release string) (string, error) {
	var mu sync.Mutex
	made := map[string]string{}
	return func(release string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if d, ok := made[release]; ok {
			return d, nil
		}
		d, err := os.MkdirTemp("", "trustjoin-tr069-root-")
		if err != nil {
			return "", err
		}
		cleanup = append(cleanup, d)
		root := filepath.Join(d, "root")
		cmd := exec.Command(filepath.Join(repo, "scripts/openwrt/root.sh"), root, "--release", release, "--with", agents)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("root.sh --release %s --with %q: %v\n%s", release, agents, err, out)
		}
		made[release] = root
		return root, nil
	}
}()

// lines collects a process's output lines, for waits that follow events.
type lines struct {
	mu  sync.Mutex
	all []string
	c   *sync.Cond
}

func newLines() *lines {
	l := &lines{}
	l.c = sync.NewCond(&l.mu)
	return l
}

func (l *lines) add(r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.line(prefix + sc.Text())
	}
}

func (l *lines) line(s string) {
	l.mu.Lock()
	l.all = append(l.all, s)
	l.c.Broadcast()
	l.mu.Unlock()
}

func (l *lines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countLocked(substr)
}

func (l *lines) countLocked(substr string) int {
	n := 0
	for _, s := range l.all {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// waitFor waits until substr has appeared n times.
func (l *lines) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	l.waitForAny(t, map[string]int{substr: n})
}

// waitForAny waits until one of the substrings has appeared its number of
// times.
func (l *lines) waitForAny(t *testing.T, want map[string]int) {
	t.Helper()
	timedOut := false
	wake := time.AfterFunc(90*time.Second, func() { l.mu.Lock(); timedOut = true; l.c.Broadcast(); l.mu.Unlock() })
	defer wake.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for s, n := range want {
			if l.countLocked(s) >= n {
				return
			}
		}
		if timedOut {
			t.Fatalf("none of %v in the router's log:\n%s", want, strings.Join(l.all, "\n"))
		}
		l.c.Wait()
	}
}

// router is an OpenWrt-like root in a directory, its daemons run chrooted
// into it: ubusd, procd (not as PID 1: it then serves ubus and runs
// services), rpcd, and trustjoin as its init script starts it under procd.
// What they log (procd passes on the services' output; easycwmpd and
// bbfdmd log only to syslog) goes to log. Unlike scripts/openwrt/chroot.sh
// the router shares the host's network and process namespaces: the stub
// ACS the agents talk to is this test process.
type router struct {
	t     *testing.T
	dir   string
	log   *lines
	procs []*exec.Cmd
	// ns is the router's PID namespace, held by unshare's child: when the
	// test ends, or its process dies, the kernel ends all in it.
	ns     *exec.Cmd
	nsInit int
}

// vendor is the TR-106 vendor the router's files are generated for.
const vendor = "00D09E"

var root = "Device.X_" + vendor + "_TrustJoin."

func newRouter(t *testing.T, release string) *router {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root (chroot)")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("no busybox (Debian: busybox-static, installed by .ci/install-deps.sh)")
	}
	bin, err := buildTrustjoin()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := rootTemplate(release)
	if err != nil {
		t.Fatal(err)
	}
	r := &router{t: t, dir: filepath.Join(t.TempDir(), "root"), log: newLines()}
	if out, err := exec.Command("cp", "-a", tmpl, r.dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the root: %v\n%s", err, out)
	}
	// What a booted OpenWrt has and chroot.sh would mount: /tmp (where
	// /var points) with its run, lock and state directories, and the
	// device nodes daemons open.
	for _, d := range []string{"tmp/run/ubus", "tmp/lock", "tmp/state", "tmp/log"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, dev := range map[string]int{"null": 3, "zero": 5, "random": 8, "urandom": 9} {
		if err := syscall.Mknod(filepath.Join(r.dir, "dev", name), syscall.S_IFCHR|0o666, 1<<8|dev); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	// trustjoin as its package installs it, its TR-069 files made for the
	// vendor by the build's own knob.
	r.copy(bin, "usr/bin/trustjoin", 0o755)
	r.write("usr/libexec/rpcd/trustjoin", "#!/bin/sh\nexec /usr/bin/trustjoin rpcd \"$@\"\n", 0o755)
	for _, f := range []string{"etc/init.d/trustjoin", "etc/uci-defaults/91-trustjoin-ucitrack",
		"usr/share/bbfdm/plugins/X_TRUSTJOIN_TrustJoin.json", "usr/share/easycwmp/functions/trustjoin"} {
		r.copy(filepath.Join(repo, "files", f), f, 0o755)
	}
	if out, err := exec.Command(filepath.Join(repo, "scripts/build/vendor.sh"), vendor, r.dir).CombinedOutput(); err != nil {
		t.Fatalf("vendor.sh: %v\n%s", err, out)
	}
	// The shipped configuration, the firewall off: this router's packets
	// are not what is tested, and it must not touch the host's nftables.
	cfg, err := os.ReadFile(filepath.Join(repo, "files/etc/config/trustjoin"))
	if err != nil {
		t.Fatal(err)
	}
	r.write("etc/config/trustjoin", strings.Replace(string(cfg), "option firewall '1'", "option firewall '0'", 1), 0o600)
	// Two devices onboarded earlier (onboarding needs radios: the lab's).
	r.write("etc/trustjoin/devices.json", `{"version":1,"devices":[{"id":"d-plug","name":"Plug","segment":"iot","state":"disconnected"},`+
		`{"id":"d-cam","name":"Camera","segment":"iot","state":"disconnected"}],"preauthorized":[]}`, 0o600)

	t.Cleanup(r.stop)
	r.namespace()
	r.syslog()
	r.start("ubusd", "/sbin/ubusd")
	r.waitSocket("var/run/ubus/ubus.sock")
	r.start("procd", "/sbin/procd", "-S")
	r.waitUbus("service")
	r.start("rpcd", "/sbin/rpcd")
	r.waitUbus("uci")
	r.sh("/etc/init.d/trustjoin start")
	r.log.waitFor(t, "msg=ready", 1)
	r.waitUbus("trustjoin")
	return r
}

// syslog collects what the router's programs send to /dev/log (easycwmpd
// and bbfdmd log only there) into its log.
func (r *router) syslog() {
	r.t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(r.dir, "dev/log"), Net: "unixgram"})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			r.log.line("syslog: " + strings.TrimRight(string(buf[:n]), "\n"))
		}
	}()
}

func (r *router) write(name, content string, mode os.FileMode) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) copy(from, to string, mode os.FileMode) {
	r.t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(to, string(b), mode)
}

func (r *router) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return string(b)
}

// namespace makes the router's PID namespace: its first process (init
// there) lives until unshare dies, which dies with this test process.
func (r *router) namespace() {
	r.t.Helper()
	r.ns = exec.Command("unshare", "--pid", "--fork", "--kill-child", "sleep", "infinity")
	r.ns.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.ns.Start(); err != nil {
		r.t.Fatalf("unshare: %v", err)
	}
	children := fmt.Sprintf("/proc/%d/task/%d/children", r.ns.Process.Pid, r.ns.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); r.nsInit == 0; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(children); err == nil {
			fmt.Sscan(string(b), &r.nsInit)
		}
		if time.Now().After(deadline) {
			r.t.Fatal("unshare started no process")
		}
	}
}

// command is name chrooted into the router, in its PID namespace.
func (r *router) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--target", fmt.Sprint(r.nsInit), "--pid", "--",
		"chroot", r.dir, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TZ=UTC", name}, args...)...)
	cmd.Dir = "/"
	return cmd
}

// start runs a daemon of the router, its output into the log.
func (r *router) start(tag, name string, args ...string) *exec.Cmd {
	r.t.Helper()
	cmd := r.command(name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	go r.log.add(out, tag+": ")
	r.procs = append(r.procs, cmd)
	return cmd
}

// stop ends the router: the end of its namespace's init ends everything in
// it (the daemons and what procd started).
func (r *router) stop() {
	if r.ns != nil && r.ns.Process != nil {
		r.ns.Process.Kill()
		r.ns.Wait()
	}
	for _, p := range r.procs {
		p.Wait()
	}
	if r.t.Failed() {
		r.t.Logf("router log:\n%s", r.log)
	}
}

// sh runs a shell script in the router, failing the test if it fails.
func (r *router) sh(script string) string {
	r.t.Helper()
	out, err := r.command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// ubus makes one ubus call with the real client: its exit status (ubus's
// status code) and reply.
func (r *router) ubus(object, method string, args any) (int, map[string]any) {
	r.t.Helper()
	b, _ := json.Marshal(args)
	cmd := r.command("/bin/ubus", "-t", "120", "call", object, method, string(b))
	out, err := cmd.Output()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("ubus call %s %s: %v", object, method, err)
	}
	var reply map[string]any
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &reply); err != nil {
			r.t.Fatalf("ubus call %s %s: %v\n%s", object, method, err, out)
		}
	}
	return status, reply
}

func (r *router) waitSocket(name string) {
	r.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(filepath.Join(r.dir, name)); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no socket %s:\n%s", name, r.log)
		}
	}
}

// waitUbus waits until object is on the bus (`ubus wait_for`).
func (r *router) waitUbus(object string) {
	r.t.Helper()
	if out, err := r.command("/bin/ubus", "-t", "60", "wait_for", object).CombinedOutput(); err != nil {
		r.t.Fatalf("ubus object %s did not appear: %v %s\n%s", object, err, out, r.log)
	}
}

// TestRouterRuns: the router boots and trustjoin answers on the bus
// through rpcd, the model's vendor as built.
func TestRouterRuns(t *testing.T) {
	r := newRouter(t, "main")
	status, reply := r.ubus("trustjoin", "status", map[string]any{})
	if status != 0 || reply["ready"] != true {
		t.Fatalf("status: %d %v", status, reply)
	}
}
