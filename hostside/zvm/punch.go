package zvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// punchFile sends data to userid's reader as the connector does (docs/facts/zvm-connector.md
// §2.5): punch to its own reader, CHANGE RDR id CLASS X, TRANSFER * RDR
// id TO userid RDR; PURGE RDR id when either fails. Each step is
// journaled in r, or in an operation of its own ("punch") when r is
// nil, so that a file left in the connector's reader by a crash is
// purged at the next start. A file whose fate is unknown (the punch or
// the purge failed) keeps the operation pending until then.
func (b *Backend) punchFile(ctx context.Context, r *run, userid string, in io.Reader, name, typ string) (id int, err error) {
	if r == nil {
		own, err := b.begin(ctx, "punch", userid, opData{})
		if err != nil {
			return 0, err
		}
		defer func() {
			if !errors.Is(err, errCrashed) && own.clean() {
				err = own.endAfter(ctx, err)
			}
		}()
		r = own
	}
	i := len(r.d.Punches)
	r.d.Punches = append(r.d.Punches, punchRec{Name: name, Type: typ})
	if err := r.step(ctx, stepPunching); err != nil {
		return 0, err
	}
	data := &countingReader{r: in}
	id, err = b.c.CP.Punch(ctx, data, name, typ)
	if err != nil {
		return 0, fmt.Errorf("punch %s.%s: %w", name, typ, err)
	}
	r.d.Punches[i].SpoolID = id
	if err := r.step(ctx, stepPunched); err != nil {
		return 0, err
	}
	for _, cmd := range []string{
		fmt.Sprintf("CHANGE RDR %04d CLASS X", id),
		fmt.Sprintf("TRANSFER * RDR %04d TO %s RDR", id, userid),
	} {
		resp, err := b.c.CP.Exec(ctx, cmd)
		if err == nil && resp.RC != 0 {
			err = fmt.Errorf("rc %d: %s", resp.RC, strings.TrimSpace(resp.Text))
		}
		if err != nil {
			if perr := b.purgeOwn(context.WithoutCancel(ctx), id); perr != nil {
				b.log.Error("purge of a spool file in the connector's reader failed; the next start purges it", "spoolid", id, "err", perr)
			} else {
				r.d.Punches[i].Purged = true
				if serr := r.step(ctx, stepPurged); serr != nil {
					return 0, serr
				}
			}
			return 0, fmt.Errorf("punch %s.%s to %s: CP %s: %w", name, typ, userid, cmd, err)
		}
	}
	r.d.Punches[i].Transferred = true
	if err := r.step(ctx, stepTransferred); err != nil {
		return 0, err
	}
	b.log.Info("file punched to the guest's reader", "userid", userid, "file", name+"."+typ, "spoolid", id, "bytes", data.n)
	return id, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// purgeOwn purges spool file id from the connector's own reader.
func (b *Backend) purgeOwn(ctx context.Context, id int) error {
	p, err := b.c.CP.Exec(ctx, fmt.Sprintf("PURGE RDR %04d", id))
	if err == nil && p.RC != 0 {
		err = fmt.Errorf("rc %d: %s", p.RC, strings.TrimSpace(p.Text))
	}
	if err != nil {
		return fmt.Errorf("CP PURGE RDR %04d: %w", id, err)
	}
	return nil
}

// rdrFile is one file of QUERY RDR * ALL.
type rdrFile struct {
	ID              int
	Name, Type      string
	Origin, DevType string
	Class           string
}

// ownReader lists the connector's own reader from QUERY RDR * ALL:
// originating userid in columns 0-7, spool id 9-12, class 14, device type
// 16-18, name 53-62, type 63-71 (0-based).
func (b *Backend) ownReader(ctx context.Context) ([]rdrFile, error) {
	resp, err := b.c.CP.Exec(ctx, "QUERY RDR * ALL")
	if err == nil && resp.RC != 0 {
		err = fmt.Errorf("rc %d: %s", resp.RC, strings.TrimSpace(resp.Text))
	}
	if err != nil {
		return nil, fmt.Errorf("CP QUERY RDR * ALL: %w", err)
	}
	return parseReaderList(resp.Text), nil
}

// parseReaderList reads the file lines of QUERY RDR * ALL; the header,
// "NO RDR FILES" and anything without a spool id in columns 9-12 are
// skipped.
func parseReaderList(text string) []rdrFile {
	var out []rdrFile
	for _, line := range strings.Split(text, "\n") {
		if len(line) < 13 {
			continue
		}
		id, err := strconv.Atoi(line[9:13])
		if err != nil || id < 0 {
			continue // header or NO RDR FILES
		}
		out = append(out, rdrFile{ID: id, Name: column(line, 53, 63), Type: column(line, 63, 72),
			Origin: column(line, 0, 8), Class: column(line, 14, 15), DevType: column(line, 16, 19)})
	}
	return out
}

func column(line string, from, to int) string {
	if len(line) <= from {
		return ""
	}
	return strings.TrimSpace(line[from:min(to, len(line))])
}

// purgeLeftover purges what a crash may have left of p in the
// connector's reader: the file with p's spool id, or, the id unknown,
// every file named like p. A file with p's id and another name is
// someone else's (spool ids are reused) and stays.
func (b *Backend) purgeLeftover(ctx context.Context, p punchRec) ([]int, error) {
	files, err := b.ownReader(ctx)
	if err != nil {
		return nil, err
	}
	var purged []int
	for _, f := range files {
		if !strings.EqualFold(f.Name, p.Name) || !strings.EqualFold(f.Type, p.Type) || (p.SpoolID != 0 && f.ID != p.SpoolID) {
			continue
		}
		if err := b.purgeOwn(ctx, f.ID); err != nil {
			return purged, err
		}
		purged = append(purged, f.ID)
	}
	return purged, nil
}
