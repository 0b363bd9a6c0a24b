package zvm

import (
	"context"
	"fmt"
	"strings"
)

// punchFile sends data to userid's reader as the connector does (zvm.md
// §2.5): punch to its own reader, CHANGE RDR id CLASS X, TRANSFER * RDR
// id TO userid RDR; PURGE RDR id when either fails.
func (b *Backend) punchFile(ctx context.Context, userid string, data []byte, name, typ string) (int, error) {
	id, err := b.c.CP.Punch(ctx, data, name, typ)
	if err != nil {
		return 0, fmt.Errorf("punch %s.%s: %w", name, typ, err)
	}
	for _, cmd := range []string{
		fmt.Sprintf("CHANGE RDR %04d CLASS X", id),
		fmt.Sprintf("TRANSFER * RDR %04d TO %s RDR", id, userid),
	} {
		r, err := b.c.CP.Exec(ctx, cmd)
		if err == nil && r.RC != 0 {
			err = fmt.Errorf("rc %d: %s", r.RC, strings.TrimSpace(r.Text))
		}
		if err != nil {
			if p, perr := b.c.CP.Exec(context.WithoutCancel(ctx), fmt.Sprintf("PURGE RDR %04d", id)); perr != nil || p.RC != 0 {
				b.log.Error("purge of a spool file in the connector's reader failed; purge it by hand", "spoolid", id, "rc", p.RC, "err", perr)
			}
			return 0, fmt.Errorf("punch %s.%s to %s: CP %s: %w", name, typ, userid, cmd, err)
		}
	}
	b.log.Info("file punched to the guest's reader", "userid", userid, "file", name+"."+typ, "spoolid", id, "bytes", len(data))
	return id, nil
}
