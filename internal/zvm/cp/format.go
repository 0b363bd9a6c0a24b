package cp

import (
	"fmt"
	"strings"

	"github.com/zguest/zguest/internal/zvm/spool"
)

// dateFormat is the QUERY RDR date operand.
type dateFormat int

const (
	shortDate dateFormat = iota // mm/dd
	fullDate                    // mm/dd/yyyy
	isoDate                     // yyyy-mm-dd
)

// Header lines of QUERY RDR|PUN|PRT (docs/facts/zvm-reader.md §4.1).
const (
	hdrAll = "ORIGINID FILE CLASS RECORDS  CPY HOLD DATE  TIME     NAME      TYPE     DIST"
	// guess: layout of the fields after HOLD without ALL.
	hdrShort = "ORIGINID FILE CLASS RECORDS  CPY HOLD FORM     DEST     KEEP MSG"
)

func header(all bool, df dateFormat) string {
	if !all {
		return hdrShort
	}
	if df == shortDate {
		return hdrAll
	}
	// guess: FULLDATE/ISODATE widen the DATE column by 5.
	return strings.Replace(hdrAll, "DATE  ", "DATE       ", 1)
}

// fileLine formats one QUERY RDR ALL data line: originid 0-7, file 9-12,
// class 14, device type 16-18, records 20-27, copies 29-31, hold 33-36,
// date 38-42, time 44-51, name 53-62, type 63-71, dist 72-79 (SHORTDATE).
func fileLine(f spool.File, all bool, df dateFormat) string {
	head := fmt.Sprintf("%-8s %04d %c %-3s %08d %03d %-4s",
		f.Origin, f.ID, f.Class, f.DevType, len(f.Records), f.Copies, f.Hold)
	if !all {
		keep := "OFF "
		if f.Keep {
			keep = "ON  "
		}
		// guess: FORM, DEST, KEEP and MSG values.
		return fmt.Sprintf("%s %-8s %-8s %s OFF", head, f.Form, "OFF", keep)
	}
	var date string
	switch df {
	case fullDate:
		date = f.Created.Format("01/02/2006")
	case isoDate:
		date = f.Created.Format("2006-01-02")
	default:
		date = f.Created.Format("01/02")
	}
	return fmt.Sprintf("%s %s %s %-10s%-9s%-8s",
		head, date, f.Created.Format("15:04:05"), f.Name, f.Type, f.Dist)
}

// recs formats the 4-character RECS field: nnnn, nnnK, nnnM.
// guess: larger counts are truncated, not rounded.
func recs(n int) string {
	switch {
	case n < 10000:
		return fmt.Sprintf("%04d", n)
	case n < 1000000:
		return fmt.Sprintf("%03dK", n/1000)
	}
	return fmt.Sprintf("%03dM", min(n/1000000, 999))
}

func holdWord(f spool.File) string {
	if f.Hold&spool.HoldUser != 0 {
		return "HOLD"
	}
	return "NOHOLD"
}

func keepWord(f spool.File) string {
	if f.Keep {
		return "KEEP"
	}
	return "NOKEEP"
}

// sentFrom is the receiver's file-movement line (§4.3):
// RDR FILE 0125 SENT FROM LINUX01  PUN WAS 0125 RECS 0012 CPY  001 A NOHOLD NOKEEP
func sentFrom(f spool.File, from string, fromQ spool.Queue, was int) string {
	return fmt.Sprintf("RDR FILE %04d SENT FROM %-8s %s WAS %04d RECS %s CPY  %03d %c %s %s",
		f.ID, from, fromQ, was, recs(len(f.Records)), f.Copies, f.Class, holdWord(f), keepWord(f))
}

// sentTo is the sender's file-movement line (§4.3):
// PUN FILE 0125 SENT TO LINUX02  RDR AS 0125 RECS 0012 CPY  001 A NOHOLD NOKEEP
func sentTo(f spool.File, fromQ spool.Queue, was int) string {
	return fmt.Sprintf("%s FILE %04d SENT TO %-8s RDR AS %04d RECS %s CPY  %03d %c %s %s",
		fromQ, was, f.Owner, f.ID, recs(len(f.Records)), f.Copies, f.Class, holdWord(f), keepWord(f))
}

// closedToQueue is the line for a punch file closed into the system punch
// queue. guess: "PUN FILE 0007 TO LINUX01  COPY 001 NOHOLD".
func closedToQueue(f spool.File) string {
	return fmt.Sprintf("PUN FILE %04d TO %-8s COPY %03d %s", f.ID, f.Owner, f.Copies, holdWord(f))
}
