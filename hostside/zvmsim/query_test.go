package zvmsim_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/zguest/zguest/hostside/smapi"
	"github.com/zguest/zguest/hostside/zvmsim"
)

func startSim(t *testing.T, o zvmsim.Options) (*zvmsim.Sim, *smapi.Client) {
	t.Helper()
	o.DiskDir = t.TempDir()
	s, err := zvmsim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := s.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, &smapi.Client{Addr: srv.Addr(), Backoff: time.Millisecond, LockRetries: -1}
}

var seqRe = regexp.MustCompile(`^[0-9]{8}$`)

func TestImageQueryDMAnswersCardImages(t *testing.T) {
	s, cl := startSim(t, zvmsim.Options{})
	ctx := context.Background()
	recs := []string{"USER LINUX01 LBYONLY 2G 4G G", "INCLUDE OSDFLT", "COMMAND DEFINE CPU 00 TYPE IFL"}
	if err := cl.ImageCreateDM(ctx, "LINUX01", recs); err != nil {
		t.Fatal(err)
	}
	if err := cl.ImageDiskCreateDM(ctx, "LINUX01", smapi.DiskCreate{Vdev: "0100", DevType: "3390", AllocType: "AUTOG", Area: "POOL1", Unit: smapi.UnitCylinders, Size: 10, Mode: "MR"}); err != nil {
		t.Fatal(err)
	}
	// The raw answer: every record an 80-byte card, sequence numbers in
	// columns 73-80, DirMaint's *DVHOPT record last.
	resp := s.Handle(ctx, smapi.Request{Function: smapi.FnImageQueryDM, Target: "LINUX01"})
	cards, err := smapi.NewParamReader(resp.Data).Array()
	if err != nil || resp.RC != 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	if len(cards) != 5 {
		t.Fatalf("%d cards: %q", len(cards), cards)
	}
	for i, c := range cards {
		if len(c) != smapi.CardLen || !seqRe.MatchString(c[72:]) {
			t.Errorf("card %d is not an 80-byte card image with a sequence number: %q", i, c)
		}
	}
	if last := cards[len(cards)-1]; !regexp.MustCompile(`^\*DVHOPT LNK0 LOG1 RCM1 SMS0 NPW1 LNGAMENG PWC[0-9]{8} CRC..\s+[0-9]{8}$`).MatchString(last) {
		t.Errorf("last card %q", last)
	}
	// The client reads the statements back, without padding, sequence
	// numbers or the control record.
	got, err := cl.ImageQueryDM(ctx, "LINUX01")
	want, _ := s.Directory("LINUX01")
	if err != nil || !reflect.DeepEqual(got, want) || got[3] != "MDISK 0100 3390 0001 0010 POOL01 MR" {
		t.Fatalf("%q %v\nwant %q", got, err, want)
	}
}

func TestUnknownFunctionAndLevel(t *testing.T) {
	_, cl := startSim(t, zvmsim.Options{})
	ctx := context.Background()
	_, err := cl.Call(ctx, "Image_Frobnicate", "LINUX01", nil)
	if !errors.Is(err, smapi.Code(900, 12)) {
		t.Errorf("unknown function: %v", err)
	}
	if lvl, err := cl.QueryAPIFunctionalLevel(ctx, "ZGUEST"); err != nil || lvl != zvmsim.DefaultAPILevel {
		t.Errorf("level %d %v", lvl, err)
	}
	_, cl = startSim(t, zvmsim.Options{APILevel: smapi.LevelZVM71})
	if lvl, err := cl.QueryAPIFunctionalLevel(ctx, "ZGUEST"); err != nil || lvl != 710 {
		t.Errorf("level %d %v", lvl, err)
	}
}

func TestStatusAndActiveConfiguration(t *testing.T) {
	s, cl := startSim(t, zvmsim.Options{})
	ctx := context.Background()
	if err := cl.ImageCreateDM(ctx, "G1", []string{"USER G1 LBYONLY 2G 4G G", "COMMAND DEFINE CPU 00 TYPE IFL", "COMMAND DEFINE CPU 01 TYPE IFL", "SHARE RELATIVE 200"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.ImageDiskCreateDM(ctx, "G1", smapi.DiskCreate{Vdev: "0100", DevType: "3390", AllocType: "AUTOG", Area: "POOL1", Unit: smapi.UnitCylinders, Size: 10, Mode: "MR"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ImageStatusQuery(ctx, "G1"); !errors.Is(err, smapi.Code(200, 12)) {
		t.Errorf("logged off: %v", err)
	}
	if _, err := cl.ImageStatusQuery(ctx, "NOBODY"); !errors.Is(err, smapi.Code(200, 4)) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := cl.ImageActiveConfigurationQuery(ctx, "G1"); !errors.Is(err, smapi.Code(200, 12)) {
		t.Errorf("config of a logged-off image: %v", err)
	}
	a, err := cl.Activate(ctx, "G1")
	if err != nil || !reflect.DeepEqual(a, smapi.Activation{}) {
		t.Fatalf("single activate: %+v %v", a, err)
	}
	if n, err := cl.ImageStatusQuery(ctx, "G1"); err != nil || !reflect.DeepEqual(n, []string{"G1"}) {
		t.Errorf("%q %v", n, err)
	}
	if n, err := cl.ImageStatusQuery(ctx, "*"); err != nil || !slices.Contains(n, "G1") || !slices.Contains(n, s.HostID()) {
		t.Errorf("all active: %q %v", n, err)
	}
	c, err := cl.ImageActiveConfigurationQuery(ctx, "G1")
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryKB() != 2<<20 || c.NumCPUs != 2 || len(c.CPUs) != 2 || c.CPUs[0].Status != smapi.CPUBase || c.CPUs[1].Number != 1 || c.ShareValue != "200" || c.ShareType != smapi.ShareRelative {
		t.Errorf("%+v", c)
	}
	if d := c.Devices[len(c.Devices)-1]; d != (smapi.Device{Type: smapi.DevDASD, Address: "0100"}) {
		t.Errorf("devices %+v", c.Devices)
	}
}

func TestNameListActivation(t *testing.T) {
	_, cl := startSim(t, zvmsim.Options{})
	ctx := context.Background()
	for _, id := range []string{"G1", "G2"} {
		if err := cl.ImageCreateDM(ctx, id, []string{"USER " + id + " LBYONLY 1G 2G G"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"G1", "G2", "G3"} {
		if err := cl.NameListAdd(ctx, "ZGLIST", id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := cl.NameListQuery(ctx, "ZGLIST"); err != nil || !reflect.DeepEqual(n, []string{"G1", "G2", "G3"}) {
		t.Fatalf("%q %v", n, err)
	}
	cl.ImageActivate(ctx, "G2")
	a, err := cl.Activate(ctx, "ZGLIST")
	want := smapi.Activation{Done: 1, NotDone: 2, Failing: []smapi.Failure{{Image: "G2", RC: 200, RS: 8}, {Image: "G3", RC: 200, RS: 4}}}
	if !errors.Is(err, smapi.Code(200, 28)) || !reflect.DeepEqual(a, want) {
		t.Errorf("activate list: %+v %v", a, err)
	}
	if n, _ := cl.ImageStatusQuery(ctx, "ZGLIST"); !reflect.DeepEqual(n, []string{"G1", "G2"}) {
		t.Errorf("active in list: %q", n)
	}
	cl.NameListRemove(ctx, "ZGLIST", "G3")
	a, err = cl.Deactivate(ctx, "ZGLIST", "IMMED")
	if err != nil || a.Done != 2 || a.NotDone != 0 || len(a.Failing) != 0 {
		t.Errorf("deactivate list: %+v %v", a, err)
	}
	a, err = cl.Deactivate(ctx, "ZGLIST", "IMMED")
	if !errors.Is(err, smapi.Code(200, 32)) || a.NotDone != 2 {
		t.Errorf("deactivate again: %+v %v", a, err)
	}
}

// TestConsoleGetSpoolsConsoleFile: Image_Console_Get answers no data and
// leaves a class T file of device type CON from the guest in the caller's
// reader, which is how the connector finds it.
func TestConsoleGetSpoolsConsoleFile(t *testing.T) {
	s, cl := startSim(t, zvmsim.Options{})
	ctx := context.Background()
	if err := cl.ImageCreateDM(ctx, "G1", []string{"USER G1 LBYONLY 1G 2G G"}); err != nil {
		t.Fatal(err)
	}
	s.AppendConsole("G1", "hello from G1")
	resp := s.Handle(ctx, smapi.Request{Function: smapi.FnImageConsoleGet, Target: "G1"})
	if resp.RC != 0 || len(resp.Data) != 0 {
		t.Fatalf("%+v", resp)
	}
	files, err := s.Spool().List(s.HostID())
	if err != nil || len(files) != 1 {
		t.Fatalf("%+v %v", files, err)
	}
	if f := files[0]; f.Origin != "G1" || f.Class != 'T' || f.DevType != "CON" {
		t.Errorf("console file %+v", f)
	}
	if err := cl.ImageConsoleGet(ctx, "NOBODY"); !errors.Is(err, smapi.Code(200, 4)) {
		t.Errorf("%v", err)
	}
}
