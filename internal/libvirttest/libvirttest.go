// Package libvirttest gives tests and benchmarks a running libvirtd with
// the QEMU driver on a machine without systemd (CI containers): it makes
// the host ready the way docs/facts/kvm-libvirt.md §1
// found necessary (the libvirt-qemu user and group, and
// /etc/libvirt/qemu.conf with user = "root", group = "root" and
// stdio_handler = "file", so that neither virtlogd nor a chown of shared
// images is needed), starts libvirtd in its own session with a pid file
// when its socket does not answer, waits until it answers and has probed
// qemu-system-s390x (the very first probe of all qemu binaries takes
// about 25 s), and stops it again when the last user is done.
//
// Several test binaries may use it at once (go test runs packages in
// parallel): a setup lock serializes Ensure and Stop, every user holds a
// shared lock on a users file while it runs, and only a Stop that can
// take that lock exclusively stops a libvirtd the harness started. A
// libvirtd started by someone else (systemd, a person) is used and never
// stopped.
package libvirttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/zguest/zguest/internal/testutil"
)

// Paths; variables so that a test of this package could move them.
var (
	Socket   = "/run/libvirt/libvirt-sock"
	QemuConf = "/etc/libvirt/qemu.conf"
	stateDir = "/run/zguest-libvirttest"
)

// Start makes sure libvirtd runs for t (skipping with "needs root:" or
// "needs tool:" where it cannot) and returns its socket path. It stops
// a libvirtd it started when t and every other user are done.
func Start(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t, "libvirtd with the QEMU driver")
	testutil.RequireTool(t, "libvirtd")
	testutil.RequireTool(t, "qemu-system-s390x")
	testutil.RequireTool(t, "qemu-img")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := Ensure(ctx, t.Logf)
	if err != nil {
		t.Fatalf("libvirtd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop libvirtd: %v", err)
		}
	})
	return d.Socket
}

// Daemon is one user's hold on libvirtd.
type Daemon struct {
	Socket string
	users  *os.File // shared lock held while in use
	logf   func(string, ...any)
}

// Ensure prepares the host and starts libvirtd if needed (see the
// package doc). It needs root, libvirtd and qemu-system-s390x.
func Ensure(ctx context.Context, logf func(string, ...any)) (*Daemon, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root")
	}
	for _, tool := range []string{"libvirtd", "qemu-system-s390x", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install libvirt-daemon, libvirt-daemon-driver-qemu, qemu-system-misc and qemu-utils", tool)
		}
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	setup, err := lockFile(filepath.Join(stateDir, "setup.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer setup.Close()
	users, err := lockFile(filepath.Join(stateDir, "users.lock"), syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	d := &Daemon{Socket: Socket, users: users, logf: logf}
	if err := ensureUser(logf); err != nil {
		users.Close()
		return nil, err
	}
	if err := ensureQemuConf(QemuConf, logf); err != nil {
		users.Close()
		return nil, err
	}
	if !answers(Socket) {
		if err := startLibvirtd(logf); err != nil {
			users.Close()
			return nil, err
		}
	}
	if err := waitReady(ctx, Socket); err != nil {
		users.Close()
		return nil, fmt.Errorf("%w (libvirtd log: %s)", err, filepath.Join(stateDir, "libvirtd.log"))
	}
	return d, nil
}

// Stop releases this user's hold and stops libvirtd if the harness
// started it and nobody else uses it.
func (d *Daemon) Stop() error {
	setup, err := lockFile(filepath.Join(stateDir, "setup.lock"), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer setup.Close()
	d.users.Close() // drops the shared lock
	users, err := os.OpenFile(filepath.Join(stateDir, "users.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer users.Close()
	if syscall.Flock(int(users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return nil // still in use
	}
	pidFile := filepath.Join(stateDir, "libvirtd.pid")
	raw, err := os.ReadFile(pidFile)
	if os.IsNotExist(err) {
		return nil // not ours
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s: bad pid %q", pidFile, raw)
	}
	defer os.Remove(pidFile)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("SIGTERM libvirtd %d: %w", pid, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			d.logf("libvirtd %d ignored SIGTERM for 15 s; sending SIGKILL", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.logf("libvirtd %d stopped", pid)
	cleanCgroups(d.logf)
	return nil
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// ensureUser creates the libvirt-qemu system user and group, which the
// QEMU driver resolves before it reads qemu.conf (libvirt-daemon-system's
// postinst makes them; the minimal install does not).
func ensureUser(logf func(string, ...any)) error {
	if _, err := user.LookupGroup("libvirt-qemu"); err != nil {
		if out, err := exec.Command("groupadd", "--system", "libvirt-qemu").CombinedOutput(); err != nil {
			return fmt.Errorf("groupadd libvirt-qemu: %v: %s", err, out)
		}
		logf("created the system group libvirt-qemu")
	}
	if _, err := user.Lookup("libvirt-qemu"); err != nil {
		out, err := exec.Command("useradd", "--system", "-g", "libvirt-qemu", "-d", "/var/lib/libvirt", "-s", "/usr/sbin/nologin", "libvirt-qemu").CombinedOutput()
		if err != nil {
			return fmt.Errorf("useradd libvirt-qemu: %v: %s", err, out)
		}
		logf("created the system user libvirt-qemu")
	}
	return nil
}

// qemuSettings are what qemu.conf must say.
var qemuSettings = []struct{ key, value string }{
	{"user", `"root"`}, {"group", `"root"`}, {"stdio_handler", `"file"`},
}

// ensureQemuConf adds the settings qemu.conf lacks. A setting present
// with another value is left alone and reported: the file belongs to
// the host's administrator.
func ensureQemuConf(path string, logf func(string, ...any)) error {
	raw, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var add []string
	for _, s := range qemuSettings {
		re := regexp.MustCompile(`(?m)^\s*` + s.key + `\s*=\s*(.*?)\s*$`)
		m := re.FindSubmatch(raw)
		switch {
		case m == nil:
			add = append(add, s.key+" = "+s.value)
		case string(m[1]) != s.value:
			logf("%s sets %s = %s, not %s; leaving it (domains may fail to start without virtlogd or with image ownership changes)", path, s.key, m[1], s.value)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	text := string(raw)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += "# added by zguest's libvirt test harness (internal/libvirttest)\n" + strings.Join(add, "\n") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	logf("%s: added %s", path, strings.Join(add, "; "))
	return nil
}

// answers says whether libvirtd accepts a connection on socket.
func answers(socket string) bool {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(2*time.Second)))
	if err := l.ConnectToURI(libvirt.QEMUSystem); err != nil {
		return false
	}
	_ = l.Disconnect()
	return true
}

// startLibvirtd runs libvirtd in its own session (so that a test's
// signals do not reach it) with its log in the state directory and its
// pid in libvirtd.pid.
func startLibvirtd(logf func(string, ...any)) error {
	logPath := filepath.Join(stateDir, "libvirtd.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	path, _ := exec.LookPath("libvirtd")
	cmd := exec.Command(path)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start libvirtd: %w", err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it if it exits while we run
	if err := os.WriteFile(filepath.Join(stateDir, "libvirtd.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		return err
	}
	logf("started libvirtd, pid %d, log %s", pid, logPath)
	return nil
}

// waitReady waits until libvirtd answers and has probed the s390x
// emulator (domain capabilities), so that callers' first calls are fast.
func waitReady(ctx context.Context, socket string) error {
	for !answers(socket) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("libvirtd does not answer on %s: %w", socket, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket)))
	if err := l.ConnectToURI(libvirt.QEMUSystem); err != nil {
		return err
	}
	defer l.Disconnect()
	done := make(chan error, 1)
	go func() {
		_, err := l.ConnectGetDomainCapabilities(nil, libvirt.OptString{"s390x"}, libvirt.OptString{"s390-ccw-virtio"}, libvirt.OptString{"qemu"}, 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("libvirt has no s390x emulator (install qemu-system-misc): %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("libvirtd probing qemu-system-s390x: %w", ctx.Err())
	}
}

// cleanCgroups removes the empty per-controller "machine" cgroup
// directories libvirt leaves behind without systemd.
func cleanCgroups(logf func(string, ...any)) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/machine")
	if d := "/sys/fs/cgroup/machine"; exists(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err == nil {
			logf("removed empty cgroup %s", d)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
