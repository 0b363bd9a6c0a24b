package imagefixture

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
)

// Line is one console line and when it arrived after QEMU started.
type Line struct {
	At   time.Duration
	Text string
}

// Console collects a guest's console lines.
type Console struct {
	mu    sync.Mutex
	lines []Line
	start time.Time
	log   io.Writer
}

// Lines returns a copy of the lines so far.
func (c *Console) Lines() []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Line(nil), c.lines...)
}

// Index returns the first line containing s, or -1.
func Index(lines []Line, s string) int {
	for i, l := range lines {
		if strings.Contains(l.Text, s) {
			return i
		}
	}
	return -1
}

// Tail formats the last n lines for a failure message.
func Tail(lines []Line, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%7.2f %s\n", l.At.Seconds(), l.Text)
	}
	return b.String()
}

func (c *Console) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		text := strings.TrimRight(sc.Text(), "\r")
		at := time.Since(c.start)
		c.mu.Lock()
		c.lines = append(c.lines, Line{at, text})
		c.mu.Unlock()
		if c.log != nil {
			fmt.Fprintf(c.log, "%7.2f %s\n", at.Seconds(), text)
		}
	}
}

// BootQEMU starts qemu-system-s390x (TCG) with args, collects its console
// (SCLP, on stdout with -nographic) into the returned Console and a log
// file, and waits until done reports true for the lines so far, QEMU
// exits, or limit passes. It then kills QEMU: a clean guest shutdown can
// hang for 90 s (udev workers in crypto self-tests), and the test has
// what it needs by then.
func BootQEMU(t testing.TB, args []string, logFile string, limit time.Duration, done func([]Line) bool) (*Console, error) {
	t.Helper()
	testutil.RequireTool(t, "qemu-system-s390x")
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	full := append([]string{"-M", "s390-ccw-virtio", "-accel", "tcg", "-nographic", "-no-reboot"}, args...)
	cmd := exec.CommandContext(ctx, "qemu-system-s390x", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	stdin, err := cmd.StdinPipe() // keep the console's input open and quiet
	if err != nil {
		return nil, err
	}
	defer stdin.Close()
	c := &Console{start: time.Now(), log: lf}
	t.Logf("qemu-system-s390x %s", strings.Join(full, " "))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	readDone := make(chan struct{})
	go func() { c.read(out); close(readDone) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var result error
loop:
	for {
		select {
		case <-readDone:
			if done(c.Lines()) {
				break loop
			}
			result = fmt.Errorf("qemu exited before the guest got there")
			break loop
		case <-ctx.Done():
			result = fmt.Errorf("no success after %s", limit)
			break loop
		case <-tick.C:
			if done(c.Lines()) {
				break loop
			}
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	<-readDone
	return c, result
}
