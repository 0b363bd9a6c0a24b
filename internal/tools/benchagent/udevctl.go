package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

// How `udevadm settle` is made to wait for the emulated udevd.
//
// udevadm settle (systemd 252, udevadm-settle.c), run as root, connects to
// udevd's control socket /run/udev/control (SOCK_SEQPACKET), sends a PING
// message and an END_MESSAGES message, and waits until udevd closes the
// connection, which udevd does once it has dealt with the messages; then it
// returns as soon as /run/udev/queue is absent (udevd keeps that file while
// events are queued). Without a socket there it returns at once ("Failed
// to connect to udev daemon, ignoring").
//
// serveUdevControl answers on such a socket: it reads the messages until
// END_MESSAGES (or EOF), waits until the emulated udevd has processed every
// queued event (zkernel.Kernel.Settle, which includes the RUN programs the
// udevRunner runs), and closes the connection. The queue file never
// exists, so settle returns right after. startWithUdevControl starts the
// tools in a private mount namespace whose /run is a fresh tmpfs with that
// socket's directory bind-mounted on /run/udev, so the real udevadm finds
// it at its fixed path and the host's /run is untouched.
//
// guess: the wire layout of udevd's control message (udev-ctrl.c: a
// 16-byte version string, a 4-byte magic, then the message type as a
// 4-byte int, END_MESSAGES being 0); only the type is read.

const udevCtrlTypeOffset = 20

type udevControl struct {
	dir string
	l   *net.UnixListener
	wg  sync.WaitGroup
}

func serveUdevControl(root string, k *zkernel.Kernel) (*udevControl, error) {
	dir := filepath.Join(root, "udevctl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: filepath.Join(dir, "control"), Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("udev control socket: %w", err)
	}
	c := &udevControl{dir: dir, l: l}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer conn.Close()
				buf := make([]byte, 1024)
				for {
					if err := conn.SetReadDeadline(time.Now().Add(15 * time.Second)); err != nil {
						return
					}
					n, err := conn.Read(buf)
					if err != nil || n < udevCtrlTypeOffset+4 || binary.LittleEndian.Uint32(buf[udevCtrlTypeOffset:]) == 0 {
						break
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				_ = k.Settle(ctx)
			}()
		}
	}()
	return c, nil
}

func (c *udevControl) close() {
	c.l.Close()
	c.wg.Wait()
}

// startWithUdevControl runs on a locked thread of the guest network
// namespace that is thrown away afterwards: it gives the thread a private
// mount namespace with the control socket at /run/udev/control and starts
// cmd there (a child inherits the namespaces of the thread that forks it).
func startWithUdevControl(cmd *exec.Cmd, ctlDir string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on /run: %w", err)
	}
	if err := os.Mkdir("/run/udev", 0o755); err != nil {
		return err
	}
	if err := unix.Mount(ctlDir, "/run/udev", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on /run/udev: %w", ctlDir, err)
	}
	return cmd.Start()
}

// udevRunner is the udev rule 80-setmac.rules of nova-dpm: for every
// "add" of a network device below a qeth group it runs setmac.sh with the
// device path while the emulated udevd processes the event (so settle
// waits for it). It also receives the scripts' syslog messages.
type udevRunner struct {
	env    *zkerneltest.Env // set before the tools start
	tools  string
	root   string
	syslog *net.UnixConn
	sock   string

	mu   sync.Mutex
	fail []string
}

func newUdevRunner(tools, root string) (*udevRunner, error) {
	sock := filepath.Join(root, "syslog.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("syslog socket: %w", err)
	}
	u := &udevRunner{tools: tools, root: root, syslog: c, sock: sock}
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := c.ReadFromUnix(buf); err != nil {
				return
			}
		}
	}()
	return u, nil
}

func (u *udevRunner) close() { u.syslog.Close() }

func (u *udevRunner) environ() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ZROOT=" + u.root, "ZTOOLS=" + u.tools, "ZSYSLOG=" + u.sock, "LC_ALL=C"}
}

// Send implements zkernel.EventSink.
func (u *udevRunner) Send(ev zkernel.Uevent) error {
	if ev.Subsystem != "net" || ev.Action != "add" || !strings.HasPrefix(ev.DevPath, "/devices/qeth/") || u.env == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(u.tools, "usr/bin/setmac.sh"), ev.DevPath)
	cmd.Env = u.environ()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := u.env.RunInGuest(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("setmac.sh %s: %w", ev.DevPath, err)
	}
	if err != nil {
		u.mu.Lock()
		u.fail = append(u.fail, fmt.Sprintf("  setmac.sh %s: %v %s", ev.DevPath, err, out.String()))
		u.mu.Unlock()
	}
	return nil
}

func (u *udevRunner) failures() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.fail) == 0 {
		return ""
	}
	return strings.Join(u.fail, "\n") + "\n"
}
