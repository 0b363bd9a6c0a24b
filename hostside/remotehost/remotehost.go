// Package remotehost is how the host daemon copies an image to the
// remote_host nova names ("user@host") for image_export: scp in batch
// mode, without a host key prompt, on the configured sshd port, as the
// z/VM cloud connector's FilesystemBackend.image_export runs it.
package remotehost

import (
	"fmt"
	"regexp"
	"strconv"
)

// hostRE is remote_host: [user@]host, the host a name, an IPv4 address
// or a bracketed IPv6 address. Nothing may start with "-" (an scp
// option).
var hostRE = regexp.MustCompile(`^([A-Za-z0-9_][A-Za-z0-9._-]*@)?([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$`)

// Check validates remote_host.
func Check(remote string) error {
	if !hostRE.MatchString(remote) {
		return fmt.Errorf("remote_host %q: want user@host (a host name or IP address)", remote)
	}
	return nil
}

// PutArgv is the scp command line copying the local file src to dst on
// remote; binary "" is /usr/bin/scp and port 0 is 22.
func PutArgv(binary string, port int, src, remote, dst string) ([]string, error) {
	if err := Check(remote); err != nil {
		return nil, err
	}
	if binary == "" {
		binary = "/usr/bin/scp"
	}
	if port == 0 {
		port = 22
	}
	return []string{binary, "-B", "-P", strconv.Itoa(port), "-o", "StrictHostKeyChecking=no", "--", src, remote + ":" + dst}, nil
}
