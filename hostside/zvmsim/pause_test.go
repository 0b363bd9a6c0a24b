package zvmsim_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvmsim"
)

// TestImagePause drives Image_Pause over the wire as smcli encodes it
// (the keyword without a length field) through the guest's states.
func TestImagePause(t *testing.T) {
	s, err := zvmsim.New(zvmsim.Options{DiskDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := s.Serve(ln)
	defer srv.Close()
	ctx := context.Background()
	cl := &smapi.Client{Addr: srv.Addr(), Backoff: time.Millisecond}
	if _, err := cl.ImagePause(ctx, "NOBODY", true); !errorsIs(err, 200, 4) {
		t.Errorf("unknown image: %v", err)
	}
	if err := cl.ImageCreateDM(ctx, "P1", []string{"USER P1 LBYONLY 1G 2G G"}); err != nil {
		t.Fatal(err)
	}
	if active, err := cl.ImagePause(ctx, "P1", true); err != nil || active {
		t.Errorf("logged off: active %v %v; want rc 0 rs 12", active, err)
	}
	if err := cl.ImageActivate(ctx, "P1"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		pause, want bool
	}{{true, true}, {true, true}, {false, false}, {false, false}, {true, true}} {
		if active, err := cl.ImagePause(ctx, "P1", step.pause); err != nil || !active {
			t.Fatalf("pause=%v: active %v %v", step.pause, active, err)
		}
		if s.Paused("P1") != step.want {
			t.Errorf("pause=%v: paused %v", step.pause, s.Paused("P1"))
		}
	}
	if err := cl.ImageDeactivate(ctx, "P1", "IMMED"); err != nil {
		t.Fatal(err)
	}
	if s.Paused("P1") {
		t.Error("still paused after logoff")
	}
	for _, bad := range []string{"", "PAUSE=MAYBE", "pause=yes"} {
		r := s.Handle(ctx, smapi.Request{Function: smapi.FnImagePause, Target: "P1", Params: []byte(bad)})
		if r.RC != smapi.RCSyntax {
			t.Errorf("%q: rc %d rs %d, want a syntax error", bad, r.RC, r.RS)
		}
	}
}

// FuzzImagePause feeds Image_Pause arbitrary parameter bytes: the
// simulator answers with a code, never panics.
func FuzzImagePause(f *testing.F) {
	f.Add([]byte("PAUSE=YES"))
	f.Add([]byte("PAUSE=NO\x00"))
	s, _ := zvmsim.New(zvmsim.Options{DiskDir: f.TempDir()})
	f.Fuzz(func(t *testing.T, params []byte) {
		s.Handle(context.Background(), smapi.Request{Function: smapi.FnImagePause, Target: "F", Params: params})
	})
}
