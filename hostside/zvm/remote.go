package zvm

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/zguest/zguest/hostside/remotehost"
)

// scpFrom copies remote:path to the local file dst with scp, as the
// original does for transportfiles and image_import (-P
// remotehost_sshd_port).
func (b *Backend) scpFrom(ctx context.Context, remote, path, dst string) error {
	argv, err := remotehost.GetArgv(b.c.SCP, b.c.SSHPort, remote, path, dst)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
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
