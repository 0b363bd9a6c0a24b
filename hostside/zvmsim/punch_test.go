package zvmsim_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/zguest/zguest/hostside/zvmcp"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// TestPunchReaderByteIdentical: what a reader delivers lands in the
// connector's reader byte for byte, the last card NUL-padded, punched
// in-process and over the simulator's wire; an empty reader is refused.
func TestPunchReaderByteIdentical(t *testing.T) {
	s, err := zvmsim.New(zvmsim.Options{DiskDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	csrv := s.ServeCP(ln)
	defer csrv.Close()
	ctx := context.Background()
	const size = 3<<20 + 41 // several writes of cards and a ragged tail
	data, _ := io.ReadAll(io.LimitReader(rand.NewChaCha8([32]byte{42}), size))
	want := append(bytes.Clone(data), make([]byte, 80-size%80)...)
	for _, cp := range []struct {
		name string
		cp   zvmcp.CP
	}{{"in-process", s.CP()}, {"wire", zvmcp.Remote{Network: "tcp", Addr: csrv.Addr()}}} {
		id, err := cp.cp.Punch(ctx, bytes.NewReader(data), "cfgdrive", "iso")
		if err != nil {
			t.Fatalf("%s: %v", cp.name, err)
		}
		got, err := cp.cp.Receive(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", cp.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: received %d bytes, not the %d punched plus padding", cp.name, len(got), size)
		}
		if _, err := cp.cp.Punch(ctx, bytes.NewReader(nil), "empty", "iso"); err == nil {
			t.Errorf("%s: an empty file was punched", cp.name)
		}
	}
}
