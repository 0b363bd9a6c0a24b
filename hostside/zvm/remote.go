package zvm

import (
	"context"

	"github.com/zguest/zguest/hostside/imagerepo"
)

// scpFrom copies remote:path to the local file dst with scp, as the
// original does for transportfiles and image_import (-P
// remotehost_sshd_port).
func (b *Backend) scpFrom(ctx context.Context, remote, path, dst string) error {
	return imagerepo.SCP{Binary: b.c.SCP, Port: b.c.SSHPort}.Get(ctx, remote, path, dst)
}

// hashFile is the md5 and size of a file.
func hashFile(path string) (string, int64, error) { return imagerepo.HashFile(path) }
