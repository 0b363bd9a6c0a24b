package cp

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zguest/zguest/internal/zvm/spool"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func clock() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// env builds a spool with LINUX01 and LINUX02 logged on, OFFUSER logged
// off and PENDING in LOGOFF; LINUX01's reader holds file 1 (class A,
// "cfgdrive iso", 2 cards) and file 2 (class X, unnamed, held).
func env(t *testing.T) (*CP, *spool.System) {
	t.Helper()
	sys := spool.New(spool.Options{Clock: clock})
	for _, u := range []struct {
		id string
		st spool.State
	}{{"LINUX01", spool.LoggedOn}, {"LINUX02", spool.LoggedOn}, {"OFFUSER", spool.LoggedOff}, {"PENDING", spool.LogoffPending}} {
		if err := sys.AddUser(u.id, u.st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sys.Punch("LINUX01", bytes.Repeat([]byte("a"), 100), "cfgdrive", "iso", 'A'); err != nil {
		t.Fatal(err)
	}
	if err := sys.PunchWrite("LINUX01", [][]byte{[]byte("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.ClosePunch("LINUX01", spool.PunchClose{To: "*"}); err != nil {
		t.Fatal(err)
	}
	x, on := byte('X'), true
	if _, err := sys.Change("LINUX01", spool.QueueRDR, 2, spool.Change{Class: &x, Hold: &on}); err != nil {
		t.Fatal(err)
	}
	return New(sys), sys
}

func TestExec(t *testing.T) {
	const hdr = "ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE     DIST\n"
	const line1 = "OPNCLOUD 0001 A PUN 00000002 001 NONE 03/04 05:06:07 cfgdrive  iso      OPNCLOUD\n"
	const line2 = "LINUX01  0002 X PUN 00000001 001 USER 03/04 05:06:07                    LINUX01 \n"
	tests := []struct {
		name, user, cmd string
		want            string
		rc              int
	}{
		{"unknown", "LINUX01", "FROB X", "HCPCMD001E Unknown CP command: FROB\n", 1},
		{"unknown lower", "LINUX01", "frob", "HCPCMD001E Unknown CP command: frob\n", 1},
		{"empty", "LINUX01", "   ", "", 0},
		{"issuer logged off", "OFFUSER", "Q V C", "HCPCQU045E OFFUSER not logged on\n", 45},
		{"cut at NUL", "LINUX01", "SPOOL C CLASS X\x00 GARBAGE", "", 0},

		{"q v c", "LINUX01", "QUERY VIRTUAL C", "RDR  000C CL * NOCONT NOHOLD EOF         READY\n     000C 2540 CLOSED NOKEEP NORESCAN SUBCHANNEL = 0003\n", 0},
		{"q v 00c lower", "LINUX01", "q v 00c", "RDR  000C CL * NOCONT NOHOLD EOF         READY\n     000C 2540 CLOSED NOKEEP NORESCAN SUBCHANNEL = 0003\n", 0},
		{"q v d", "LINUX01", "QUERY VIRTUAL D", "PUN  000D CL A NOCONT NOHOLD COPY 001    READY FORM STANDARD\n     000D DIST LINUX01 DEST OFF\n     000D 2540 NOEOF CLOSED NOKEEP NOMSG NONAME\n     000D SUBCHANNEL = 0004\n", 0},
		{"q v e", "LINUX01", "QUERY VIRTUAL E", "HCPQVD040E Device 000E does not exist\n", 40},
		{"q v missing", "LINUX01", "QUERY VIRTUAL", "HCPCQV026E Operand missing or invalid\n", 26},
		{"q v junk", "LINUX01", "Q V ZZZZZ", "HCPCQV003E Invalid option - ZZZZZ\n", 3},
		{"q junk", "LINUX01", "QUERY FROB", "HCPCQV003E Invalid option - FROB\n", 3},

		{"q user self", "LINUX01", "QUERY USER", "LINUX01  - DSC\n", 0},
		{"q user other", "LINUX01", "query user linux02", "LINUX02  - DSC\n", 0},
		{"q user off", "LINUX01", "QUERY USER OFFUSER", "HCPCQU045E OFFUSER not logged on\n", 45},
		{"q user nodir", "LINUX01", "QUERY USER NOBODY", "HCPCQU045E NOBODY not logged on\n", 45},
		{"q user pending", "LINUX01", "QUERY USER PENDING", "HCPCQU361E LOGOFF/FORCE pending for user PENDING\n", 361},

		{"q rdr all", "LINUX01", "QUERY RDR * ALL", hdr + line1 + line2, 0},
		{"q reader id shortdate", "LINUX01", "QUERY READER * 2 ALL SHORTDATE", hdr + line2, 0},
		{"q rdr abbrev", "LINUX01", "q rdr all", hdr + line1 + line2, 0},
		{"q rdr class", "LINUX01", "Q RDR * CLASS A ALL", hdr + line1, 0},
		{"q rdr missing id", "LINUX01", "QUERY RDR * 77 ALL SHORTDATE", "NO RDR FILES\n", 0},
		{"q rdr empty", "LINUX02", "QUERY RDR * ALL", "NO RDR FILES\n", 0},
		{"q pun empty", "LINUX01", "QUERY PUN * ALL", "NO PUN FILES\n", 0},
		{"q rdr other user", "LINUX02", "QUERY RDR LINUX01 1 ALL", hdr + line1, 0},
		{"q rdr nodir", "LINUX02", "QUERY RDR NOBODY ALL", "HCPCQR053E NOBODY not in CP directory\n", 53},
		{"q rdr junk", "LINUX01", "QUERY RDR * ALL !!", "HCPCQR003E Invalid option - !!\n", 3},

		{"spool c class", "LINUX01", "SPOOL C CLASS *", "", 0},
		{"spool c cl", "LINUX01", "SPOOL C CL X", "", 0},
		{"spool d class star", "LINUX01", "SPOOL D CLASS *", "HCPCSP003E Invalid option - *\n", 3},
		{"spool d cont", "LINUX01", "spool d cont", "", 0},
		{"spool d form dest dist", "LINUX01", "SPOOL D CL A FORM STANDARD DEST OFF DIST LINUX01", "", 0},
		{"spool missing", "LINUX01", "SPOOL D", "HCPCSP026E Operand missing or invalid\n", 26},
		{"spool class missing", "LINUX01", "SPOOL D CLASS", "HCPCSP026E Operand missing or invalid\n", 26},
		{"spool e", "LINUX01", "SPOOL E CLASS A", "HCPCSP040E Device 000E does not exist\n", 40},
		{"spool junk", "LINUX01", "SPOOL C FROB", "HCPCSP003E Invalid option - FROB\n", 3},

		{"close c hold nothing", "LINUX01", "CLOSE C HOLD", "", 0},
		{"close d nothing", "LINUX01", "CLOSE D", "", 0},
		{"close d purge nothing", "LINUX01", "CLOSE D PURGE", "", 0},
		{"close junk", "LINUX01", "CLOSE D FROB", "HCPCSL003E Invalid option - FROB\n", 3},
		{"close e", "LINUX01", "CLOSE E", "HCPCSL040E Device 000E does not exist\n", 40},

		{"order", "LINUX01", "ORDER * READER 2", "0000001 FILE  ORDERED\n", 0},
		{"order rdr", "LINUX01", "ORDER * RDR 2", "0000001 FILE  ORDERED\n", 0},
		{"order missing", "LINUX01", "ORDER * READER 9", "NO FILES ORDERED\nHCPCSU042E Spoolid 0009 does not exist\n", 42},
		{"order wrong user", "LINUX02", "ORDER * READER 1", "NO FILES ORDERED\nHCPCSU042E Spoolid 0001 does not exist\n", 42},

		{"change nohold", "LINUX01", "CHANGE * READER 2 NOHOLD", "0000001 FILE  CHANGED\n", 0},
		{"change class no star", "LINUX01", "change rdr 1 class x", "0000001 FILE  CHANGED\n", 0},
		{"change all", "LINUX01", "CHANGE RDR ALL HOLD", "0000002 FILES CHANGED\n", 0},
		{"change empty all", "LINUX02", "CHANGE RDR ALL HOLD", "NO FILES CHANGED\n", 0},
		{"change missing", "LINUX01", "CHANGE * RDR 9 NOHOLD", "HCPCSU042E Spoolid 0009 does not exist\n", 42},
		{"change wrong user", "LINUX02", "CHANGE * RDR 1 NOHOLD", "HCPCSU042E Spoolid 0001 does not exist\n", 42},
		{"change no option", "LINUX01", "CHANGE * RDR 1", "HCPCSU026E Operand missing or invalid\n", 26},
		{"change bad class", "LINUX01", "CHANGE * RDR 1 CLASS *", "HCPCSU003E Invalid option - *\n", 3},
		{"change bad id", "LINUX01", "CHANGE * RDR 12345 NOHOLD", "HCPCSU003E Invalid option - 12345\n", 3},
		{"change nodir", "LINUX01", "CHANGE NOBODY RDR 1 NOHOLD", "HCPCSU053E NOBODY not in CP directory\n", 53},

		{"transfer", "LINUX01", "TRANSFER * RDR 1 TO LINUX02 RDR", "RDR FILE 0001 SENT TO LINUX02  RDR AS 0001 RECS 0002 CPY  001 A NOHOLD NOKEEP\n", 0},
		{"transfer lower no rdr", "LINUX01", "transfer * rdr 2 to linux02", "RDR FILE 0002 SENT TO LINUX02  RDR AS 0002 RECS 0001 CPY  001 X HOLD NOKEEP\n", 0},
		{"transfer nodir", "LINUX01", "TRANSFER * RDR 1 TO NOBODY RDR", "HCPCSU053E NOBODY not in CP directory\n", 53},
		{"transfer bad userid", "LINUX01", "TRANSFER * RDR 1 TO TOOLONGUSER RDR", "HCPCSU007E Invalid userid - TOOLONGUSER\n", 7},
		{"transfer missing", "LINUX01", "TRANSFER * RDR 9 TO LINUX02 RDR", "HCPCSU042E Spoolid 0009 does not exist\n", 42},
		{"transfer no to", "LINUX01", "TRANSFER * RDR 1", "HCPCSU026E Operand missing or invalid\n", 26},
		{"transfer to pun", "LINUX01", "TRANSFER * RDR 1 TO LINUX02 PUN", "HCPCSU003E Invalid option - PUN\n", 3},

		{"purge one", "LINUX01", "PURGE * RDR 1", "0000001 FILE  PURGED\n", 0},
		{"purge no star", "LINUX01", "purge rdr 2", "0000001 FILE  PURGED\n", 0},
		{"purge all", "LINUX01", "PURGE * RDR ALL", "0000002 FILES PURGED\n", 0},
		{"purge two ids", "LINUX01", "PURGE * RDR 1 2", "0000002 FILES PURGED\n", 0},
		{"purge class", "LINUX01", "PURGE * RDR CLASS X", "0000001 FILE  PURGED\n", 0},
		{"purge none", "LINUX02", "PURGE * RDR ALL", "NO FILES PURGED\n", 0},
		{"purge missing", "LINUX01", "PURGE * RDR 9", "HCPCSU042E Spoolid 0009 does not exist\n", 42},
		{"purge wrong user", "LINUX02", "PURGE * RDR 1", "HCPCSU042E Spoolid 0001 does not exist\n", 42},
		{"purge pun", "LINUX01", "PURGE * PUN ALL", "NO FILES PURGED\n", 0},
		{"purge bad queue", "LINUX01", "PURGE * FOO 1", "HCPCSU003E Invalid option - FOO\n", 3},
		{"purge missing operand", "LINUX01", "PURGE", "HCPCSU026E Operand missing or invalid\n", 26},

		{"link existing", "LINUX01", "LINK LINUX02", "HCPLNM021E A virtual device number was not supplied or it was invalid.\n", 21},
		{"link nodir", "LINUX01", "LINK NOBODY", "HCPLNM053E NOBODY not in CP directory\n", 53},
		{"link invalid", "LINUX01", "LINK TOOLONGUSER", "HCPLNM020E Userid missing or invalid\n", 20},
		{"link vdev", "LINUX01", "LINK LINUX02 191 291 RR", "HCPLNM040E Device 0191 does not exist\n", 40},
		{"link abbrev rejected", "LINUX01", "LIN LINUX02", "HCPCMD001E Unknown CP command: LIN\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := env(t)
			got, rc := c.Exec(tc.user, tc.cmd)
			if string(got) != tc.want || rc != tc.rc {
				t.Errorf("Exec(%s, %q)\n got %q rc %d\nwant %q rc %d", tc.user, tc.cmd, got, rc, tc.want, tc.rc)
			}
		})
	}
}

// TestClosePunch drives the punch sequence of vmur punch -r through CP.
func TestClosePunch(t *testing.T) {
	tests := []struct {
		name, cmd, want string
		rc              int
		owner           string
		queue           spool.Queue
	}{
		{"to self", "CLOSE D TO * RDR NAME Hello sh", "RDR FILE 0003 SENT FROM LINUX01  PUN WAS 0003 RECS 0002 CPY  001 A NOHOLD NOKEEP\n", 0, "LINUX01", spool.QueueRDR},
		{"to own userid", "CLOSE D TO LINUX01 RDR NAME Hello", "RDR FILE 0003 SENT FROM LINUX01  PUN WAS 0003 RECS 0002 CPY  001 A NOHOLD NOKEEP\n", 0, "LINUX01", spool.QueueRDR},
		{"to other", "CLOSE D TO LINUX02 RDR NAME Hello sh", "PUN FILE 0003 SENT TO LINUX02  RDR AS 0003 RECS 0002 CPY  001 A NOHOLD NOKEEP\n", 0, "LINUX02", spool.QueueRDR},
		{"to other hold", "CLOSE D HOLD TO LINUX02", "PUN FILE 0003 SENT TO LINUX02  RDR AS 0003 RECS 0002 CPY  001 A HOLD NOKEEP\n", 0, "LINUX02", spool.QueueRDR},
		{"to pun queue", "CLOSE D NAME Hello", "PUN FILE 0003 TO LINUX01  COPY 001 NOHOLD\n", 0, "LINUX01", spool.QueuePUN},
		{"nodir", "CLOSE D TO NOBODY RDR NAME a b", "HCPCSL007E Invalid userid - NOBODY\n", 7, "", 0},
		{"bad userid", "CLOSE D TO BAD.USER RDR", "HCPCSL007E Invalid userid - BAD.USER\n", 7, "", 0},
		{"long name", "CLOSE D TO * RDR NAME abcdefghi", "HCPCSL003E Invalid option - abcdefghi\n", 3, "", 0},
		{"purge", "CLOSE D PURGE", "", 0, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, sys := env(t)
			card := bytes.Repeat([]byte{0xC1}, 80)
			if err := sys.PunchWrite("LINUX01", [][]byte{card, card}); err != nil {
				t.Fatal(err)
			}
			got, rc := c.Exec("LINUX01", tc.cmd)
			if string(got) != tc.want || rc != tc.rc {
				t.Fatalf("got %q rc %d, want %q rc %d", got, rc, tc.want, tc.rc)
			}
			d, _ := sys.PunchDevice("LINUX01")
			if tc.owner == "" {
				if rc != 0 && d.OpenFile != 3 {
					t.Errorf("failed close dropped the open file: %+v", d)
				}
				return
			}
			f, err := sys.Get(tc.owner, tc.queue, 3)
			if err != nil {
				t.Fatal(err)
			}
			if d.OpenFile != 0 || f.Origin != "LINUX01" {
				t.Errorf("device %+v file %+v", d, f)
			}
			if strings.Contains(tc.cmd, "Hello") && f.Name != "Hello" {
				t.Errorf("name case lost: %q", f.Name)
			}
		})
	}
}

func TestCloseQueueFull(t *testing.T) {
	c, sys := env(t)
	_ = sys.PunchWrite("LINUX01", [][]byte{[]byte("x")})
	_ = sys.InjectQueueFull("LINUX02", true)
	got, rc := c.Exec("LINUX01", "CLOSE D TO LINUX02 RDR NAME a b")
	want := "PUN FILE 0003 TO LINUX01  COPY 001 NOHOLD\nHCPCSL439E LINUX02 spool fileid limit exceeded\n"
	if string(got) != want || rc != 439 {
		t.Fatalf("got %q rc %d", got, rc)
	}
	// vmur then purges the file from its punch queue by the id at [9:13].
	id := string(got[9:13])
	if got, rc := c.Exec("LINUX01", "PURGE * PUN "+id); rc != 0 {
		t.Errorf("purge: %q %d", got, rc)
	}
	_ = sys.PunchWrite("LINUX01", [][]byte{[]byte("x")})
	if got, rc := c.Exec("LINUX01", "TRANSFER * RDR 1 TO LINUX02 RDR"); rc != 439 {
		t.Errorf("transfer to full queue: %q %d", got, rc)
	}
}

func TestCloseReader(t *testing.T) {
	c, sys := env(t)
	open := func() {
		t.Helper()
		if _, err := sys.OpenReader("LINUX01"); err != nil {
			t.Fatal(err)
		}
		sys.ReleaseReader("LINUX01")
	}
	open()
	if got, rc := c.Exec("LINUX01", "QUERY VIRTUAL C"); !bytes.Contains(got, []byte("OPEN 0001")) || rc != 0 {
		t.Errorf("q v c with active file: %q", got)
	}
	if _, rc := c.Exec("LINUX01", "CLOSE C HOLD"); rc != 0 {
		t.Fatal(rc)
	}
	if f, _ := sys.Get("LINUX01", spool.QueueRDR, 1); f.Hold != spool.HoldUser {
		t.Errorf("CLOSE C HOLD: hold %s", f.Hold)
	}
	_, _ = c.Exec("LINUX01", "CHANGE * READER 1 NOHOLD")
	open()
	if _, rc := c.Exec("LINUX01", "CLOSE C NOHOLD NOKEEP"); rc != 0 {
		t.Fatal(rc)
	}
	if _, err := sys.Get("LINUX01", spool.QueueRDR, 1); err == nil {
		t.Error("CLOSE C NOHOLD NOKEEP kept the file")
	}
}

// TestPunchTransferClassX: a file punched through the Go API to user A,
// changed to class X and TRANSFERred to user B appears in B's QUERY RDR.
func TestPunchTransferClassX(t *testing.T) {
	c, sys := env(t)
	id, err := sys.Punch("LINUX01", []byte("#!/bin/bash\necho hi\n"), "hostname", "sh", 'A')
	if err != nil {
		t.Fatal(err)
	}
	sid := strconv.Itoa(id)
	for _, cmd := range []string{"CHANGE RDR " + sid + " CLASS X", "TRANSFER * RDR " + sid + " TO LINUX02 RDR"} {
		if out, rc := c.Exec("LINUX01", cmd); rc != 0 {
			t.Fatalf("%s: %q rc %d", cmd, out, rc)
		}
	}
	out, rc := c.Exec("LINUX02", "QUERY RDR * "+sid+" ALL SHORTDATE")
	if rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) != 3 || len(lines[1]) != 80 {
		t.Fatalf("response %q", out)
	}
	// vmur's offsets into the whole response: class 91, hold 110, name 130, type 140.
	if out[91] != 'X' || string(out[110:114]) != "NONE" ||
		strings.TrimSpace(string(out[130:138])) != "hostname" || strings.TrimSpace(string(out[140:148])) != "sh" {
		t.Errorf("line %q", lines[1])
	}
	if out, _ := c.Exec("LINUX01", "QUERY RDR * "+sid+" ALL"); string(out) != "NO RDR FILES\n" {
		t.Errorf("A still lists it: %q", out)
	}
}

func TestQueryRDRGolden(t *testing.T) {
	c, sys := env(t)
	on := true
	_ = sys.SetSystemHold("LINUX01", spool.QueueRDR, 2, true)
	if _, err := sys.Punch("LINUX01", bytes.Repeat([]byte{1}, 80*12345), "A", "", '9'); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Change("LINUX01", spool.QueueRDR, 1, spool.Change{Keep: &on}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, cmd string }{
		{"query_rdr_all.golden", "QUERY RDR * ALL"},
		{"query_rdr_all_shortdate.golden", "QUERY RDR * ALL SHORTDATE"},
		{"query_rdr_all_isodate.golden", "QUERY RDR * ALL ISODATE"},
		{"query_rdr_all_fulldate.golden", "QUERY RDR * ALL FULLDATE"},
		{"query_rdr.golden", "QUERY RDR *"},
		{"query_virtual_all.golden", "QUERY VIRTUAL ALL"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, rc := c.Exec("LINUX01", tc.cmd)
			if rc != 0 {
				t.Fatalf("rc %d: %q", rc, got)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s:\n got %q\nwant %q", tc.cmd, got, want)
			}
		})
	}
}

// TestQueryRDRLayout checks every documented column of a data line.
func TestQueryRDRLayout(t *testing.T) {
	c, _ := env(t)
	out, _ := c.Exec("LINUX01", "QUERY RDR * ALL SHORTDATE")
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines[0]) != 76 {
		t.Errorf("header length %d", len(lines[0]))
	}
	l := lines[1]
	for _, col := range []struct {
		from, to int
		want     string
	}{
		{0, 8, "OPNCLOUD"}, {9, 13, "0001"}, {14, 15, "A"}, {16, 19, "PUN"}, {20, 28, "00000002"},
		{29, 32, "001"}, {33, 37, "NONE"}, {38, 43, "03/04"}, {44, 52, "05:06:07"},
		{53, 63, "cfgdrive  "}, {63, 72, "iso      "}, {72, 80, "OPNCLOUD"},
	} {
		if got := l[col.from:col.to]; got != col.want {
			t.Errorf("columns %d-%d = %q, want %q", col.from, col.to-1, got, col.want)
		}
	}
	for _, i := range []int{8, 13, 15, 19, 28, 32, 37, 43, 52} {
		if l[i] != ' ' {
			t.Errorf("column %d = %q, want blank", i, l[i])
		}
	}
	if unnamed := lines[2]; unnamed[53:72] != strings.Repeat(" ", 19) {
		t.Errorf("unnamed file name/type %q", unnamed[53:72])
	}
}

func TestRecs(t *testing.T) {
	for n, want := range map[int]string{0: "0000", 12: "0012", 9999: "9999", 10000: "010K", 101234: "101K", 2500000: "002M"} {
		if got := recs(n); got != want {
			t.Errorf("recs(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzExec(f *testing.F) {
	for _, s := range []string{
		"QUERY RDR * ALL", "QUERY RDR * 1 ALL SHORTDATE", "Q V C", "Q V D", "SPOOL C CLASS *",
		"CLOSE D TO * RDR NAME a b", "CLOSE C NOHOLD NOKEEP", "ORDER * READER 1", "CHANGE * READER 2 NOHOLD",
		"TRANSFER * RDR 1 TO LINUX02 RDR", "PURGE * RDR ALL", "LINK LINUX02", "QUERY USER LINUX02",
		"CHANGE RDR CLASS A CLASS X NAME a b", "q rdr linux01 cl x all isodate", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		c, sys := env(t)
		_ = sys.PunchWrite("LINUX01", [][]byte{[]byte("x")})
		out, rc := c.Exec("LINUX01", cmd)
		if rc < 0 {
			t.Fatalf("rc %d", rc)
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			t.Fatalf("response %q does not end in a newline", out)
		}
		if rc == 0 {
			if bytes.Contains(out, []byte("HCP")) && bytes.HasPrefix(out, []byte("HCP")) {
				t.Fatalf("rc 0 with an error message %q", out)
			}
			return
		}
		// rc is the number of the last HCP message.
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		last := lines[len(lines)-1]
		if len(last) < 10 || !strings.HasPrefix(last, "HCP") {
			t.Fatalf("rc %d without an HCP message: %q", rc, out)
		}
		if n, err := strconv.Atoi(last[6:9]); err != nil || n != rc%1000 {
			t.Fatalf("rc %d, message %q", rc, last)
		}
	})
}
