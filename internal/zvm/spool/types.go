package spool

import (
	"fmt"
	"time"
)

// State is the logon state of a directory user.
type State uint8

// User states.
const (
	LoggedOff State = iota
	LoggedOn
	LogoffPending // LOGOFF or FORCE in progress (CP HCP361E)
)

func (s State) String() string {
	switch s {
	case LoggedOff:
		return "off"
	case LoggedOn:
		return "on"
	case LogoffPending:
		return "logoff-pending"
	}
	return fmt.Sprintf("unknown(%d)", uint8(s))
}

// Hold is the hold status of a spool file, a set of flags.
type Hold uint8

// Hold flags. A file with any hold cannot be read by the virtual reader.
const (
	HoldNone Hold = 0
	HoldUser Hold = 1 << 0
	HoldSys  Hold = 1 << 1
)

// String returns the QUERY RDR spelling: NONE, USER, SYS or USYS.
func (h Hold) String() string {
	switch h {
	case HoldNone:
		return "NONE"
	case HoldUser:
		return "USER"
	case HoldSys:
		return "SYS" // guess: spelling of a system hold in QUERY RDR
	case HoldUser | HoldSys:
		return "USYS" // guess
	}
	return fmt.Sprintf("unknown(%d)", uint8(h))
}

// Queue identifies one of a user's spool file queues.
type Queue uint8

// Spool file queues.
const (
	QueueRDR Queue = iota
	QueuePUN
	QueuePRT
)

// String returns RDR, PUN or PRT.
func (q Queue) String() string {
	switch q {
	case QueueRDR:
		return "RDR"
	case QueuePUN:
		return "PUN"
	case QueuePRT:
		return "PRT"
	}
	return fmt.Sprintf("unknown(%d)", uint8(q))
}

// File is a snapshot of a spool file.
type File struct {
	ID      int    // 1..9999, unique system-wide
	Owner   string // user whose queue holds the file
	Queue   Queue
	Origin  string // originating userid
	Class   byte   // A-Z or 0-9
	DevType string // originating device type, "PUN"
	Records [][]byte
	RecLen  int // logical record length, 80 for punch files
	Hold    Hold
	Keep    bool
	Name    string // up to 8 bytes, case kept; may be empty
	Type    string // up to 8 bytes, case kept; may be empty
	Dist    string
	Form    string
	Created time.Time
	Copies  int
}

// ReaderDev is the spooling state of a user's virtual reader 000C.
type ReaderDev struct {
	Class  byte // '*' or A-Z, 0-9
	Hold   bool // SPOOL C HOLD: CLOSE keeps files held by default
	Keep   bool
	Cont   bool
	Active int  // spool id of the active file, 0 if none
	Open   bool // a guest has the device node open
}

// PunchDev is the spooling state of a user's virtual punch 000D.
type PunchDev struct {
	Class    byte // A-Z, 0-9
	Cont     bool
	Hold     bool
	Form     string
	Dest     string
	Dist     string
	OpenFile int // spool id of the open punch file, 0 if none
	OpenRecs int // records written to the open file
	Open     bool
}

// Change describes a CHANGE of spool file attributes; nil fields stay.
type Change struct {
	Class *byte
	Hold  *bool // true sets the user hold, false releases it (a system hold stays)
	Keep  *bool
	Name  *string
	Type  *string
	Dist  *string
}

// PunchClose describes a CLOSE of the virtual punch.
type PunchClose struct {
	Purge   bool   // discard the open file
	To      string // "" keeps the file in the user's punch queue; "*" or a userid sends it to that reader
	Hold    *bool  // nil uses the device's SPOOL HOLD setting
	SetName bool
	Name    string
	Type    string
}

// Closed describes where CLOSE put a punch file.
type Closed struct {
	File   File // the file in its new queue
	OrigID int  // id while it was in the punch
	Sent   bool // sent to a reader (File.Owner's)
}

// ReaderClose describes a CLOSE of the virtual reader; nil uses the
// device's SPOOL setting.
type ReaderClose struct {
	Hold *bool
	Keep *bool
}

// ValidClass reports whether c is a spool file class (A-Z, 0-9).
func ValidClass(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// ValidUserID reports whether id is a syntactically valid userid: 1 to 8
// characters, each alphanumeric or one of @#$_-.
func ValidUserID(id string) bool {
	if len(id) == 0 || len(id) > 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '@' || c == '#' || c == '$' || c == '_' || c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidName reports whether s is a valid spool file name or type part:
// 1 to 8 printable, non-blank ASCII bytes.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
