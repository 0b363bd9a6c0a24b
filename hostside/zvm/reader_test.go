package zvm

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseReaderList reads QUERY RDR * ALL in its fixed columns: the
// origin, spool id, class and device type pick the console files the
// connector looks for after Image_Console_Get.
func TestParseReaderList(t *testing.T) {
	text := "ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE     DIST\n" +
		"ZGUEST   0001 A PUN 00000002 001 NONE 03/04 05:06:07 cfgdrive  iso      ZGUEST  \n" +
		"LINUX01  0012 T CON 00000004 001 NONE 03/04 05:06:08 LINUX01   CONSOLE  LINUX01 \n" +
		"NO RDR FILES\n"
	got := parseReaderList(text)
	want := []rdrFile{
		{ID: 1, Name: "cfgdrive", Type: "iso", Origin: "ZGUEST", Class: "A", DevType: "PUN"},
		{ID: 12, Name: "LINUX01", Type: "CONSOLE", Origin: "LINUX01", Class: "T", DevType: "CON"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v\nwant %+v", got, want)
	}
}

func FuzzParseReaderList(f *testing.F) {
	f.Add("LINUX01  0012 T CON 00000004 001 NONE 03/04 05:06:08 LINUX01   CONSOLE  LINUX01 \n")
	f.Add("ORIGINID FILE CLASS\nX        -001 A\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, r := range parseReaderList(text) {
			if r.ID < 0 || len(r.Origin) > 8 || len(r.Class) > 1 || len(r.DevType) > 3 || strings.Contains(r.Name, "\n") {
				t.Fatalf("%+v from %q", r, text)
			}
		}
	})
}
