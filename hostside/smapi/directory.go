package smapi

import (
	"fmt"
	"strings"
)

// Directory card images.
//
// Image_Query_DM answers the directory entry as an array of records
// (zthin vmapiImage.h Image_Query_DM_Layout: each record an int32 length
// and 1 to 80 characters). Under DirMaint every record is a fixed-length
// 80-byte card image: the statement in columns 1-72, blank padded, and
// DirMaint's sequence number in columns 73-80. DirMaint also keeps its
// own control record, "*DVHOPT ...", in the entry.
//
// zthin's smcli prints the entry by taking the length of the first record
// minus 8 as the length of every record, and trims each line; the z/VM
// cloud connector then removes the *DVHOPT record (smtLayer getVM.py
// getDirectory). ParseDirectory reads the records the same way, except
// that it drops the sequence columns only from 80-byte card images: a
// server that answers records of 72 columns or fewer (a directory manager
// without sequence numbers) keeps all of each record, where smcli would
// cut 8 columns of statement text.

// CardLen is the length of a card image; SeqCols the sequence-number
// columns at its end.
const (
	CardLen = 80
	SeqCols = 8
)

// DirMaintControl starts DirMaint's control record.
const DirMaintControl = "*DVHOPT"

// ParseDirectory returns the directory statements of an Image_Query_DM
// answer: sequence columns removed from card images, blanks (and control
// characters) trimmed at both ends, empty records and the *DVHOPT record
// dropped. Records longer than a card are refused.
func ParseDirectory(records []string) ([]string, error) {
	if len(records) == 0 {
		return nil, nil
	}
	width := len(records[0])
	if width == CardLen {
		width = CardLen - SeqCols
	}
	out := make([]string, 0, len(records))
	for i, r := range records {
		if len(r) > CardLen {
			return nil, fmt.Errorf("directory record %d is %d bytes, more than a %d-byte card: %w", i+1, len(r), CardLen, ErrFrame)
		}
		if len(r) > width {
			r = r[:width]
		}
		r = strings.TrimFunc(r, func(c rune) bool { return c <= ' ' })
		if r == "" || strings.HasPrefix(strings.ToUpper(r), DirMaintControl) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
