package zvm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/zvm"
	"github.com/zguest/zguest/hostside/zvmcp"
)

// hashingCP passes everything to the simulator's CP but takes in the
// punch of a transport file named big as it streams: it hashes the
// cards and punches a one-card stand-in, so that only the backend's own
// memory is measured.
type hashingCP struct {
	zvmcp.CP
	sum   []byte
	bytes int64
}

func (h *hashingCP) Punch(ctx context.Context, r io.Reader, name, typ string) (int, error) {
	if name != "big" {
		return h.CP.Punch(ctx, r, name, typ)
	}
	s := sha256.New()
	n, err := zvmcp.WriteCards(ctx, s, r)
	if err != nil {
		return 0, err
	}
	h.sum, h.bytes = s.Sum(nil), n
	return h.CP.Punch(ctx, strings.NewReader("stand-in"), name, typ)
}

// TestTransportFilePunchStreams: a 12 MiB transport file is punched as it
// is read (the backend's allocations stay far below the file's size) and
// reaches the punch byte for byte.
func TestTransportFilePunchStreams(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	cp := &hashingCP{CP: r.sim.CP()}
	b, err := zvm.New(zvm.Config{SMAPI: r.cl, CP: cp, Disks: r.sim.CP(), ImageRepo: filepath.Join(r.dir, "images"), DiskPool: "ECKD:POOL1"})
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
	const size = 12<<20 + 3
	data, _ := io.ReadAll(io.LimitReader(rand.NewChaCha8([32]byte{12}), size))
	big := filepath.Join(r.dir, "big.iso")
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(append(data, make([]byte, 80-size%80)...))
	data = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = b.Deploy(ctx, "LINUX02", api.DeploySpec{Image: "img", TransportFiles: big, SkipDiskCopy: true})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if cp.bytes != size || !bytes.Equal(cp.sum, want[:]) {
		t.Errorf("punched %d bytes (want %d), identical: %v", cp.bytes, size, bytes.Equal(cp.sum, want[:]))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6<<20 {
		t.Errorf("deploy of a %d-byte transport file allocated %d bytes: the file is held, not streamed", size, alloc)
	}
}
