package zvm_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
)

// TestDeployRemoteTransportFiles checks the user@host:path case of
// transportfiles: the configured scp is run with the original's options
// (-B -P <port> -o StrictHostKeyChecking=no), what it copies is punched to
// the guest, and its failure is reported with its own message. The scp
// here is a script standing at the configured path, the backend's seam to
// the ssh client; a real sshd is not started.
func TestDeployRemoteTransportFiles(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	argsFile := filepath.Join(r.dir, "scp.args")
	scp := filepath.Join(r.dir, "scp")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" +
		"case \"$7\" in *unreachable*) echo 'ssh: connect to host 192.0.2.9 port 2222: Connection refused' >&2; exit 1;; esac\n" +
		"exec cp \"${7#*:}\" \"$8\"\n"
	if err := os.WriteFile(scp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := zvm.New(zvm.Config{SMAPI: r.cl, CP: r.sim.CP(), Disks: r.sim.CP(), ImageRepo: filepath.Join(r.dir, "images"),
		DiskPool: "ECKD:POOL1", SCP: scp, SSHPort: 2222})
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(r.dir, "raw")
	os.WriteFile(raw, bytes.Repeat([]byte("rootfs!!"), 512), 0o644)
	if err := b.ImportImage(ctx, api.ImageImport{ImageName: "img", URL: "file://" + raw, ImageMeta: map[string]string{"os_version": "rhel9"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateGuest(ctx, spec("LINUX02")); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(r.dir, "remote", "cfgdrive.iso")
	os.MkdirAll(filepath.Dir(iso), 0o755)
	os.WriteFile(iso, bytes.Repeat([]byte{9}, 2000), 0o644)
	if err := b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: iso, RemoteHost: "nova@192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(argsFile)
	args := strings.Split(strings.TrimSpace(string(got)), "\n")
	want := []string{"-B", "-P", "2222", "-o", "StrictHostKeyChecking=no", "--", "nova@192.0.2.9:" + iso}
	if len(args) != 8 || strings.Join(args[:7], " ") != strings.Join(want, " ") || filepath.Base(args[7]) != "cfgdrive.iso" {
		t.Errorf("scp argv %q", args)
	}
	files, _ := r.sim.Spool().List("LINUX02")
	if len(files) != 1 || files[0].Name != "cfgdrive" || files[0].Type != "iso" || files[0].Class != 'X' {
		t.Errorf("reader %+v", files)
	}
	err = b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: "/unreachable/cfgdrive.iso", RemoteHost: "nova@192.0.2.9", SkipDiskCopy: true})
	if err == nil || !strings.Contains(err.Error(), "Connection refused") || !strings.Contains(err.Error(), "nova@192.0.2.9") {
		t.Errorf("scp failure: %v", err)
	}
}
