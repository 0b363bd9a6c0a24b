package zvm_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/store"
	"github.com/zguest/zguest/hostside/zvm"
)

func TestBoltStoreRoundTrip(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := zvm.NewBoltStore(st)
	ctx := context.Background()
	g := zvm.Guest{UserID: "LINUX01", OSVersion: "rhel9", Disks: []zvm.DiskRecord{{Vdev: "0100", Type: "3390", Pool: "POOL1", Units: 143}},
		NICs: []zvm.NIC{{Vdev: "1000", MAC: "02:00:00:00:00:09", NICID: "n1"}}}
	if err := s.PutGuest(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Guest(ctx, "LINUX01"); err != nil || !ok || !reflect.DeepEqual(got, g) {
		t.Errorf("guest %+v %v %v", got, ok, err)
	}
	im := zvm.ImageRecord{Name: "img1", OSVersion: "rhel9", MD5: "abc", DiskUnits: "3338:CYL", SizeBytes: 9, Path: "/x", LastAccess: 1700000000.5, ImageFormat: "raw"}
	if err := s.PutImage(ctx, im); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Image(ctx, "img1"); err != nil || !ok || !reflect.DeepEqual(got, im) {
		t.Errorf("image %+v %v %v", got, ok, err)
	}
	id, err := s.Begin(ctx, "create", "LINUX01", map[string]int{"made": 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Step(ctx, id, "disk", map[string]int{"made": 1}); err != nil {
		t.Fatal(err)
	}
	if ops, err := s.Pending(ctx); err != nil || len(ops) != 1 || ops[0].Step != "disk" || string(ops[0].Data) != `{"made":1}` {
		t.Errorf("pending %+v %v", ops, err)
	}
	if err := s.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ops, _ := s.Pending(ctx); len(ops) != 0 {
		t.Errorf("pending after end %+v", ops)
	}
	if _, ok, _ := s.Guest(ctx, "NOPE"); ok {
		t.Error("absent guest found")
	}
}
