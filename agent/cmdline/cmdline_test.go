package cmdline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func dpmSummary(r Result) string {
	var s []string
	for _, n := range r.DPM {
		m := "-"
		if n.MAC != nil {
			m = n.MAC.String()
		}
		s = append(s, n.Read.String()+"/"+string(rune('0'+n.WantPort()))+"/"+m)
	}
	return strings.Join(s, " ")
}

func TestDPMTokens(t *testing.T) {
	for _, tc := range []struct {
		name, line, want string
		problems         []string // substrings, in order
	}{
		{"docs example back to back", "root=/dev/sda1 0001,1,0a0000000011;0004,0;",
			"0.0.0001/1/0a:00:00:00:00:11 0.0.0004/0/-", nil},
		{"space separated like nova-dpm", "ro  0001,1,0a0000000011; 0004,0;",
			"0.0.0001/1/0a:00:00:00:00:11 0.0.0004/0/-", nil},
		{"upper case devno and mac", "F500,0,FA163E000001;",
			"0.0.f500/0/fa:16:3e:00:00:01", nil},
		{"uuid and root are never tokens",
			"root=UUID=0001abcd-1234-5678-9abc-def012345678 rd.luks.uuid=abcd,0; console=ttysclp0 0600,0,020000000006;",
			"0.0.0600/0/02:00:00:00:00:06", nil},
		{"five hex digits", "12345,0; 0600,0;", "0.0.0600/0/-", []string{`"12345,0;": device number "12345" must be exactly 4`}},
		{"port 2", "0600,2; 0700,1;", "0.0.0700/1/-", []string{`port "2" must be 0 or 1`}},
		{"11 digit mac", "0600,0,02000000000;", "", []string{"must be 12 hex digits"}},
		{"multicast mac", "0600,0,030000000001;", "", []string{"multicast"}},
		{"universally administered is taken", "0001,0,000000000011;", "0.0.0001/0/00:00:00:00:00:11", nil},
		{"all-zero mac", "0600,0,000000000000;", "", []string{"all zero"}},
		{"duplicate with other mac", "0600,0,020000000001; 0600,0,020000000002;",
			"0.0.0600/0/02:00:00:00:00:01", []string{`offset 21 "0600,0,020000000002;": device 0.0.0600 is already listed`}},
		{"identical duplicate is fine", "0600,0,020000000001; 0600,0,020000000001;",
			"0.0.0600/0/02:00:00:00:00:01", nil},
		{"missing semicolon", "0600,0", "", []string{"must end with ';'"}},
		{"trailing garbage after tokens", "0600,0;0700", "0.0.0600/0/-", []string{`offset 7 "0700": NIC token must end with ';'`}},
		{"quoted words are one parameter", `foo="a b" 0600,1;`, "0.0.0600/1/-", nil},
		{"twelve tokens", strings.Repeat(" 0001,0,020000000001;", 1)[1:] + " 0004,1,020000000004; 0007,0;",
			"0.0.0001/0/02:00:00:00:00:01 0.0.0004/1/02:00:00:00:00:04 0.0.0007/0/-", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse(tc.line)
			if got := dpmSummary(r); got != tc.want {
				t.Errorf("NICs = %q, want %q", got, tc.want)
			}
			if len(r.Problems) != len(tc.problems) {
				t.Fatalf("problems = %v, want %d", r.Problems, len(tc.problems))
			}
			for i, p := range tc.problems {
				if !strings.Contains(r.Problems[i].String(), p) {
					t.Errorf("problem %d = %q, want it to contain %q", i, r.Problems[i], p)
				}
			}
		})
	}
}

func TestProblemOffsets(t *testing.T) {
	line := "quiet 0600,0;0700,7;"
	r := Parse(line)
	if len(r.Problems) != 1 {
		t.Fatal(r.Problems)
	}
	if r.Problems[0].Where != "offset 13" || line[13:20] != "0700,7;" {
		t.Errorf("where = %s", r.Problems[0].Where)
	}
}

func TestZNet(t *testing.T) {
	r := Parse("rd.znet=qeth,0.0.F500,0.0.f501,0.0.f504,layer2=1,portno=1,buffer_count=128 rd.znet=ctc,0.0.0600,0.0.0601 rd.znet_ifname=lan0:0.0.f500,0.0.f501,0.0.f504")
	if len(r.ZNet) != 1 {
		t.Fatalf("%+v", r)
	}
	n := r.ZNet[0]
	if n.Read.String() != "0.0.f500" || n.Data.String() != "0.0.f504" || !n.Explicit || n.Port != 1 || n.Layer2 != 1 || n.IfName != "lan0" {
		t.Errorf("%+v", n)
	}
	if len(n.Attrs) != 1 || n.Attrs[0].Name != "buffer_count" {
		t.Errorf("attrs %+v", n.Attrs)
	}
	if len(r.Problems) != 1 || !r.Problems[0].Warning || !strings.Contains(r.Problems[0].Reason, "ctc") {
		t.Errorf("problems %v", r.Problems)
	}
}

func TestZNetErrors(t *testing.T) {
	for line, want := range map[string]string{
		"rd.znet=qeth,0.0.f500,0.0.f501":                     "three subchannels",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,layer2=2":   "layer2=2",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,portno=16":  "portno=16",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,blkt/x=1":   "must be <attribute>=<value>",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.g502":            "invalid CCW bus id",
		"rd.znet_ifname=:0.0.f500":                           "rd.znet_ifname=<name>",
		"rd.znet_ifname=a/b:0.0.f500":                        "not valid",
		"rd.znet_ifname=lan9:0.0.f500 0f00,0;":               "no NIC on the command line",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,portno=":    "must be <attribute>=<value>",
		"rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,0.0.f503,x": `invalid CCW bus id "x"`,
	} {
		r := Parse(line)
		if len(r.Problems) == 0 || !strings.Contains(r.Problems[0].String(), want) {
			t.Errorf("%s: problems %v, want %q", line, r.Problems, want)
		}
	}
}

func TestSplitQuotes(t *testing.T) {
	w := Split(` a "b c"=d  e`)
	if len(w) != 3 || w[1].Text != "b c=d" || w[1].Offset != 3 || w[2].Offset != 12 {
		t.Errorf("%+v", w)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0001,1,0a0000000011;0004,0;", "root=UUID=abcd 0600,0; rd.znet=qeth,0.0.f500,0.0.f501,0.0.f502,layer2=1",
		`a="b;c" 0600,1,FA163E000001;`, "rd.znet_ifname=x:0.0.f500", ";;;", "0,", "ffff,1,ffffffffffff;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Parse(s)
		for _, n := range r.DPM {
			if n.Port < 0 || n.Port > 1 || n.Read.SSID != 0 {
				t.Fatalf("bad NIC %+v from %q", n, s)
			}
		}
		for _, p := range r.Problems {
			if p.Reason == "" || !utf8.ValidString(p.Where) {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}
