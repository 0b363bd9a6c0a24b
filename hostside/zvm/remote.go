package zvm

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// remoteHostRe is what the daemon accepts as remote_host / remotehost:
// user@host, where host is a name, an IPv4 address or a bracketed IPv6
// address. The original only asks for an '@'; the stricter form keeps a
// value from reaching scp as an option or a second operand.
var remoteHostRe = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}@([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])$`)

// checkRemote validates remote and the absolute path to copy from it.
func checkRemote(remote, path string) error {
	if !remoteHostRe.MatchString(remote) {
		return fmt.Errorf("remote host %q: want user@host (host a name or an address)", remote)
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "\x00\n") {
		return fmt.Errorf("remote path %q: want an absolute path", path)
	}
	return nil
}

// scpFrom copies remote:path to the local file dst with scp, as the
// original does for transportfiles and image_import (scp -B -P
// <remotehost_sshd_port> -o StrictHostKeyChecking=no): batch mode, so a
// missing key fails instead of prompting. The ssh identity is the
// daemon's (its ssh-agent or ~/.ssh).
func (b *Backend) scpFrom(ctx context.Context, remote, path, dst string) error {
	if err := checkRemote(remote, path); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, b.c.SCP, "-B", "-P", strconv.Itoa(b.c.SSHPort), "-o", "StrictHostKeyChecking=no",
		remote+":"+path, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s from %s with scp: %w: %s", path, remote, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hashFile is the md5 and size of a file.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
