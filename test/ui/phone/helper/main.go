// Command helper supports the phone pages' browser tests: it makes a
// device's DPP URI and a photo of its QR code, and plays hostapd on a
// control socket so the real daemon can onboard without a radio.
//
//	helper uri [INFO]               print a fresh DPP URI (P-256 key); INFO
//	                                "silent" makes the fake hostapd's device never answer
//	helper photo OUT.png TEXT       write a photo-like PNG of TEXT as a QR code
//	helper video OUT.y4m TEXT       write a camera feed showing it, for Chromium's
//	                                --use-file-for-fake-video-capture
//	helper hostapd -dir D -psk F -log L
//	                                answer as hostapd on D/wlan0 until killed
//
// The fake hostapd answers an onboarding like a device in pairing mode: a
// DPP code (DPP_AUTH_INIT) is authenticated, configured and connected with
// its key id from the PSK file, a second apart, so the page shows each
// step, unless its code says I:silent (a device not in pairing mode); a
// PKEX code fails as a wrong code would. Commands are logged to L
// with the passphrase cut out.
package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skip2/go-qrcode"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: helper uri | photo OUT.png TEXT | video OUT.y4m TEXT | hostapd -dir D -psk F -log L")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "uri":
		info := ""
		if len(os.Args) > 2 {
			info = os.Args[2]
		}
		err = uri(info)
	case "photo":
		if len(os.Args) != 4 {
			err = fmt.Errorf("usage: helper photo OUT.png TEXT")
			break
		}
		err = photo(os.Args[2], os.Args[3])
	case "video":
		if len(os.Args) != 4 {
			err = fmt.Errorf("usage: helper video OUT.y4m TEXT")
			break
		}
		err = video(os.Args[2], os.Args[3])
	case "hostapd":
		err = hostapd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
}

func uri(info string) error {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		return err
	}
	if info != "" {
		info = "I:" + info + ";"
	}
	fmt.Printf("DPP:V:2;M:020000000100;%sK:%s;;\n", info, base64.StdEncoding.EncodeToString(der))
	return nil
}

// photo draws the code off-centre on a grey, unevenly lit background, as
// a phone photo of a label would be.
func photo(out, text string) error {
	b, err := qrcode.Encode(text, qrcode.Medium, 520)
	if err != nil {
		return err
	}
	code, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	for y := 0; y < 1200; y++ {
		for x := 0; x < 1600; x++ {
			v := uint8(150 + (x+y)/50)
			img.Set(x, y, color.RGBA{v, v - 10, v - 20, 255})
		}
	}
	draw.Draw(img, image.Rect(480, 300, 1280, 1000), image.NewUniform(color.RGBA{235, 235, 228, 255}), image.Point{}, draw.Src)
	draw.Draw(img, code.Bounds().Add(image.Pt(620, 390)), code, image.Point{}, draw.Src)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// video writes a short Y4M clip (4:2:0) of the code on a grey background,
// which Chromium loops as its fake camera.
func video(out, text string) error {
	const w, h = 640, 480
	b, err := qrcode.Encode(text, qrcode.Medium, 400)
	if err != nil {
		return err
	}
	code, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{140, 135, 128, 255}), image.Point{}, draw.Src)
	draw.Draw(img, code.Bounds().Add(image.Pt(120, 40)), code, image.Point{}, draw.Src)
	y := make([]byte, w*h)
	u := make([]byte, w*h/4)
	v := make([]byte, w*h/4)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			c := img.RGBAAt(px, py)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			y[py*w+px] = yy
			if px%2 == 0 && py%2 == 0 {
				u[(py/2)*(w/2)+px/2], v[(py/2)*(w/2)+px/2] = cb, cr
			}
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	for i := 0; i < 10; i++ {
		buf.WriteString("FRAME\n")
		buf.Write(y)
		buf.Write(u)
		buf.Write(v)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

type fake struct {
	conn    *net.UnixConn
	psk     string
	log     *os.File
	mu      sync.Mutex
	clients []*net.UnixAddr
	// silent: the last code scanned belongs to a device that never answers.
	silent bool
}

var passRE = regexp.MustCompile(`pass=[0-9a-fA-F]+`)

func hostapd(args []string) error {
	fs := flag.NewFlagSet("hostapd", flag.ExitOnError)
	dir := fs.String("dir", "", "control socket directory")
	psk := fs.String("psk", "", "the daemon's PSK file for wlan0")
	logPath := fs.String("log", "", "command log")
	fs.Parse(args)
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(*dir, "wlan0")
	os.Remove(path)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer os.Remove(path)
	lf, err := os.Create(*logPath)
	if err != nil {
		return err
	}
	f := &fake{conn: c, psk: *psk, log: lf}
	go f.serve()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

func (f *fake) serve() {
	buf := make([]byte, 8192)
	for {
		n, from, err := f.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		cmd := string(buf[:n])
		verb, _, _ := strings.Cut(cmd, " ")
		f.mu.Lock()
		fmt.Fprintln(f.log, passRE.ReplaceAllString(cmd, "pass=[cut]"))
		f.mu.Unlock()
		reply := "OK"
		switch verb {
		case "PING":
			reply = "PONG"
		case "ATTACH":
			f.mu.Lock()
			f.clients = append(f.clients, from)
			f.mu.Unlock()
		case "GET_CAPABILITY":
			reply = "DPP=2"
		case "GET_CONFIG":
			reply = "bssid=02:00:00:00:00:00\nssid=Home\nkey_mgmt=WPA-PSK"
		case "STATUS":
			reply = "state=ENABLED\nfreq=2437\nssid[0]=Home"
		case "DPP_CONFIGURATOR_ADD", "DPP_BOOTSTRAP_GEN", "DPP_PKEX_ADD":
			reply = "1"
		case "DPP_CONFIGURATOR_GET_KEY":
			reply = "30770201010420aabbccdd"
		case "DPP_QR_CODE":
			reply = "1"
			f.mu.Lock()
			f.silent = strings.Contains(cmd, ";I:silent;")
			f.mu.Unlock()
		case "DPP_AUTH_INIT":
			f.mu.Lock()
			silent := f.silent
			f.mu.Unlock()
			if silent {
				break
			}
			go f.events("DPP-AUTH-SUCCESS init=1", "DPP-CONF-SENT", "AP-STA-CONNECTED 02:00:00:00:01:00 keyid="+f.lastKeyID())
		case "DPP_LISTEN":
			go f.events("DPP-FAIL PKEX exchange failed: code mismatch")
		}
		f.conn.WriteToUnix([]byte(reply), from)
	}
}

// events sends each event to attached clients, a second apart.
func (f *fake) events(evs ...string) {
	for _, ev := range evs {
		time.Sleep(time.Second)
		f.mu.Lock()
		for _, c := range f.clients {
			f.conn.WriteToUnix([]byte("<3>"+ev), c)
		}
		fmt.Fprintln(f.log, "event", ev)
		f.mu.Unlock()
	}
}

// lastKeyID is the newest device in the PSK file: the one being onboarded.
func (f *fake) lastKeyID() string {
	b, _ := os.ReadFile(f.psk)
	id := ""
	for _, l := range strings.Split(string(b), "\n") {
		if k, ok := strings.CutPrefix(l, "keyid="); ok {
			id, _, _ = strings.Cut(k, " ")
		}
	}
	return id
}
