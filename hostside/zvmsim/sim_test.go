package zvmsim_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvmcp"
	"github.com/zguest/zguest/hostside/zvmsim"
)

func TestRemoteCPAndDirectoryErrors(t *testing.T) {
	s, err := zvmsim.New(zvmsim.Options{DiskDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := s.Serve(ln)
	defer srv.Close()
	cln, _ := net.Listen("tcp", "127.0.0.1:0")
	csrv := s.ServeCP(cln)
	defer csrv.Close()
	ctx := context.Background()
	cl := &smapi.Client{Addr: srv.Addr(), Backoff: time.Millisecond}
	if err := cl.ImageActivate(ctx, "NOBODY"); !errorsIs(err, 200, 4) {
		t.Errorf("%v", err)
	}
	if err := cl.ImageCreateDM(ctx, "G1", []string{"USER G1 LBYONLY 1G 2G G"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.ImageCreateDM(ctx, "G1", []string{"USER G1 LBYONLY 1G 2G G"}); !errorsIs(err, 400, 8) {
		t.Errorf("%v", err)
	}
	if err := cl.ImageDeactivate(ctx, "G1", "IMMED"); !errorsIs(err, 200, 12) {
		t.Errorf("%v", err)
	}
	if err := cl.VNADeleteDM(ctx, "G1", "1000"); !errorsIs(err, 404, 8) {
		t.Errorf("%v", err)
	}
	r := zvmcp.Remote{Network: "tcp", Addr: csrv.Addr()}
	q, err := r.Exec(ctx, "QUERY USER G1")
	if err != nil || q.RC != 45 {
		t.Errorf("%+v %v", q, err)
	}
	cl.ImageActivate(ctx, "G1")
	if q, _ := r.Exec(ctx, "QUERY USER G1"); q.RC != 0 {
		t.Errorf("%+v", q)
	}
	id, err := r.Punch(ctx, strings.NewReader("hello"), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.Receive(ctx, id)
	if err != nil || len(data) != 80 || string(data[:5]) != "hello" {
		t.Errorf("%q %v", data, err)
	}
	if err := cl.ImageDiskCreateDM(ctx, "G1", smapi.DiskCreate{Vdev: "100", DevType: "3390", AllocType: "AUTOG", Area: "POOL1", Unit: smapi.UnitCylinders, Size: 10, Mode: "MR"}); err != nil {
		t.Fatal(err)
	}
	d, err := r.OpenDisk(ctx, "G1", "0100")
	if err != nil || d.Size() != 10*zvmsim.CylinderBytes {
		t.Fatalf("%v", err)
	}
	if _, err := d.WriteAt([]byte("x"), d.Size()); err == nil {
		t.Error("write beyond the disk")
	}
	d.Close()
}

func errorsIs(err error, rc, rs int) bool {
	got, gs, ok := smapi.Codes(err)
	return ok && got == rc && gs == rs
}

func FuzzHandle(f *testing.F) {
	var p smapi.Params
	p.String("").String("").String("").Array([]string{"USER F LBYONLY 1G 1G G"})
	f.Add("Image_Create_DM", p.Bytes())
	f.Add("Virtual_Network_Adapter_Create_Extended_DM", []byte{0, 0, 0, 2, 'a', 0})
	s, _ := zvmsim.New(zvmsim.Options{DiskDir: f.TempDir()})
	f.Fuzz(func(t *testing.T, fn string, params []byte) {
		s.Handle(context.Background(), smapi.Request{Function: fn, Target: "F", Params: params})
	})
}
