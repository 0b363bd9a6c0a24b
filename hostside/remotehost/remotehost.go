// Package remotehost is how the host daemon copies files between itself
// and the host nova names as remote_host / remotehost ("user@host"): scp
// in batch mode (a missing key fails instead of prompting), without a
// host key prompt, on the configured sshd port, as the z/VM cloud
// connector runs it for transportfiles, image_import and image_export.
// The ssh identity is the daemon's (its ssh-agent or ~/.ssh).
package remotehost

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// hostRE is remote_host: user@host, the host a name, an IPv4 address or
// a bracketed IPv6 address. The original only asks for an '@'; the
// stricter form keeps a value from reaching scp as an option or a second
// operand (nothing may start with "-").
var hostRE = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}@([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])$`)

// Check validates remote_host.
func Check(remote string) error {
	if !hostRE.MatchString(remote) {
		return fmt.Errorf("remote host %q: want user@host (host a name or an address)", remote)
	}
	return nil
}

// CheckPath validates remote_host and an absolute path on it.
func CheckPath(remote, path string) error {
	if err := Check(remote); err != nil {
		return err
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "\x00\n") {
		return fmt.Errorf("remote path %q: want an absolute path", path)
	}
	return nil
}

// PutArgv is the scp command line copying the local file src to dst on
// remote; binary "" is /usr/bin/scp and port 0 is 22.
func PutArgv(binary string, port int, src, remote, dst string) ([]string, error) {
	if err := CheckPath(remote, dst); err != nil {
		return nil, err
	}
	return argv(binary, port, src, remote+":"+dst), nil
}

// GetArgv is the scp command line copying path on remote to the local
// file dst.
func GetArgv(binary string, port int, remote, path, dst string) ([]string, error) {
	if err := CheckPath(remote, path); err != nil {
		return nil, err
	}
	return argv(binary, port, remote+":"+path, dst), nil
}

func argv(binary string, port int, from, to string) []string {
	if binary == "" {
		binary = "/usr/bin/scp"
	}
	if port == 0 {
		port = 22
	}
	return []string{binary, "-B", "-P", strconv.Itoa(port), "-o", "StrictHostKeyChecking=no", "--", from, to}
}
