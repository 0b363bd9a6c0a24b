// Package sshdtest runs a private OpenSSH server on loopback for tests
// of code that copies files with scp from a "remote host" (nova's
// remotehost=<user>@<my_ip>): its own port, host key and authorized key,
// and an ssh-agent holding the client key, so that a child process
// started with Server.Env logs in without a password or a prompt.
package sshdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/testutil"
)

// Server is a running sshd and ssh-agent.
type Server struct {
	Port      int    // sshd's port on 127.0.0.1
	User      string // the user the key logs in as (the test's user)
	AgentSock string // SSH_AUTH_SOCK of the agent holding the key
	Home      string // a HOME for clients, so that known_hosts stays private
}

// RemoteHost is "<user>@127.0.0.1", what nova sends as remotehost.
func (s *Server) RemoteHost() string { return s.User + "@127.0.0.1" }

// Env is the environment a client (the daemon) needs to log in.
func (s *Server) Env() []string {
	return []string{"SSH_AUTH_SOCK=" + s.AgentSock, "HOME=" + s.Home}
}

// sshd is where Debian's openssh-server puts the daemon (not on a
// normal user's PATH).
const sshd = "/usr/sbin/sshd"

// Start starts sshd and ssh-agent for the test and stops them at its
// end. sshd needs root (privilege separation); the test skips without.
func Start(t testing.TB) *Server {
	t.Helper()
	testutil.RequireRoot(t, "sshd drops privileges to its privilege separation user")
	for _, tool := range []string{sshd, "ssh-keygen", "ssh-agent", "ssh-add", "scp"} {
		testutil.RequireTool(t, tool)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Server{User: u.Username, AgentSock: filepath.Join(dir, "agent.sock"), Home: filepath.Join(dir, "home")}
	if err := os.MkdirAll(filepath.Join(s.Home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"host_key", "id"} {
		run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zguest-test-"+k, "-f", filepath.Join(dir, k))
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := []string{
		fmt.Sprintf("Port %d", s.Port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(dir, "host_key"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"UsePAM no",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
	}
	// scp speaks SFTP by default since OpenSSH 9.0.
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			cfg = append(cfg, "Subsystem sftp "+p)
			break
		}
	}
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The privilege separation directory; sshd refuses to start without.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "sshd.log")
	daemon := func(name string, args ...string) {
		logf, err := os.Create(logPath + "." + filepath.Base(name))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		logf.Close()
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	daemon(sshd, "-D", "-e", "-f", cfgPath)
	daemon("ssh-agent", "-D", "-a", s.AgentSock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		_, serr := os.Stat(s.AgentSock)
		if err == nil && serr == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath + ".sshd")
			t.Fatalf("sshd on port %d or ssh-agent at %s not up after 10s: %v %v\n%s", s.Port, s.AgentSock, err, serr, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run(t, s.Env(), "ssh-add", "-q", filepath.Join(dir, "id"))
	return s
}

func run(t testing.TB, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
