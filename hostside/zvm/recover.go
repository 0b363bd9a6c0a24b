package zvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Recover finishes or rolls back every operation the journal holds as
// pending (see the package doc for the decision at each step), logging
// each action, and ends those it settled. The daemon calls it before it
// listens. An operation it cannot settle (SMAPI or CP unreachable) stays
// pending and is reported in the error: the daemon then refuses to
// start rather than serve with a directory and records that disagree.
func (b *Backend) Recover(ctx context.Context) error {
	ops, err := b.store.Pending(ctx)
	if err != nil {
		return fmt.Errorf("zvm recovery: read the journal: %w", err)
	}
	var errs []error
	for _, op := range ops {
		var d opData
		if len(op.Data) > 0 {
			if err := json.Unmarshal(op.Data, &d); err != nil {
				errs = append(errs, fmt.Errorf("zvm recovery: journal %d: %w", op.ID, err))
				continue
			}
		}
		log := b.log.With("journal", op.ID, "kind", op.Kind, "userid", op.Target, "step", op.Step)
		switch op.Kind {
		case "create":
			err = b.recoverCreate(ctx, log, op, d)
		case "deploy", "punch":
			err = b.recoverPunches(ctx, log, op, d)
		case "delete":
			err = b.recoverDelete(ctx, log, op)
		case "import":
			err = b.recoverImport(ctx, log, op, d)
		default:
			err = fmt.Errorf("unknown kind %q", op.Kind)
		}
		if err == nil {
			err = b.store.End(ctx, op.ID)
		}
		if err != nil {
			log.Error("recovery of an interrupted operation failed; it stays in the journal", "err", err)
			errs = append(errs, fmt.Errorf("zvm recovery: %s of %s (journal %d, step %q): %w", op.Kind, op.Target, op.ID, op.Step, err))
		}
	}
	if err := b.sweepStaging(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// recoverCreate finishes a create whose disks were all made (writes the
// record) and rolls back any other (deletes the directory entry).
func (b *Backend) recoverCreate(ctx context.Context, log *slog.Logger, op Op, d opData) error {
	switch {
	case op.Step == stepRecorded:
		log.Info("recovery: interrupted create had finished; closing it")
		return nil
	case (op.Step == stepEntry || op.Step == stepDisk) && d.Made == len(d.Disks):
		if _, err := b.c.SMAPI.ImageQueryDM(ctx, op.Target); isCodes(err, 400, 4) {
			log.Warn("recovery: interrupted create made every disk but the directory entry is gone; nothing to record")
			return b.store.DeleteGuest(ctx, op.Target)
		} else if err != nil {
			return fmt.Errorf("query the directory entry: %w", err)
		}
		if err := b.store.PutGuest(ctx, Guest{UserID: op.Target, Disks: d.Disks}); err != nil {
			return fmt.Errorf("write the record: %w", err)
		}
		log.Info("recovery: finished interrupted create: directory entry and every disk exist, record written", "disks", len(d.Disks))
		return nil
	}
	if err := b.undoCreate(ctx, op.Target, d, op.Step != stepBegun); err != nil {
		return err
	}
	log.Info("recovery: rolled back interrupted create: directory entry deleted, no record", "disks_made", d.Made, "disks_planned", len(d.Disks))
	return nil
}

// undoCreate deletes the directory entry a create made, and any record
// of it. Unless entryMade, Image_Create_DM may or may not have run: the
// entry is deleted only if it is the one planned (d.Records), so that a
// guest defined before the create (which then failed with 400/8) is
// never touched.
func (b *Backend) undoCreate(ctx context.Context, userid string, d opData, entryMade bool) error {
	if !entryMade {
		recs, err := b.c.SMAPI.ImageQueryDM(ctx, userid)
		if isCodes(err, 400, 4) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("query the directory entry of %s: %w", userid, err)
		}
		if !sameEntry(recs, d.Records) {
			b.log.Warn("directory entry differs from the one the interrupted create planned; left alone", "userid", userid)
			return nil
		}
	}
	if err := b.deleteEntry(ctx, userid); err != nil {
		return err
	}
	if err := b.store.DeleteGuest(ctx, userid); err != nil {
		return fmt.Errorf("delete the record of %s: %w", userid, err)
	}
	return nil
}

// sameEntry reports whether the directory entry recs (Image_Query_DM,
// with the MDISK statements the disks added) is the planned one.
func sameEntry(recs, planned []string) bool {
	var got []string
	for _, r := range recs {
		r = strings.Join(strings.Fields(r), " ")
		if r != "" && !strings.HasPrefix(strings.ToUpper(r), "MDISK ") {
			got = append(got, r)
		}
	}
	if len(got) != len(planned) || len(planned) == 0 {
		return false
	}
	for i := range got {
		if !strings.EqualFold(got[i], strings.Join(strings.Fields(planned[i]), " ")) {
			return false
		}
	}
	return true
}

// recoverPunches purges what an interrupted deploy or punch left in the
// connector's reader. A deploy that had written its record is finished;
// any other is rolled back to "created": the record keeps its former
// os_version, the root minidisk may hold part of the image and files
// already transferred stay in the guest's reader until it is deployed
// again.
func (b *Backend) recoverPunches(ctx context.Context, log *slog.Logger, op Op, d opData) error {
	for _, p := range d.Punches {
		if p.Transferred || p.Purged {
			continue
		}
		ids, err := b.purgeLeftover(ctx, p)
		if err != nil {
			return fmt.Errorf("purge %s.%s: %w", p.Name, p.Type, err)
		}
		if len(ids) == 0 {
			log.Info("recovery: punched file not in the connector's reader (never punched, or transferred before the crash)", "file", p.Name+"."+p.Type, "spoolid", p.SpoolID)
		}
		for _, id := range ids {
			log.Info("recovery: purged a punched, not transferred file from the connector's reader", "file", p.Name+"."+p.Type, "spoolid", id)
		}
	}
	var sent []string
	for _, p := range d.Punches {
		if p.Transferred {
			sent = append(sent, fmt.Sprintf("%s.%s (%04d)", p.Name, p.Type, p.SpoolID))
		}
	}
	switch {
	case op.Kind == "deploy" && op.Step == stepRecorded:
		log.Info("recovery: interrupted deploy had finished; closing it", "image", d.Image)
	case op.Kind == "deploy":
		log.Warn("recovery: rolled back interrupted deploy: the guest stays created, deploy it again", "image", d.Image, "transferred", sent)
	default:
		log.Info("recovery: interrupted punch settled", "transferred", sent)
	}
	return nil
}

// recoverDelete finishes an interrupted delete: the user asked for it
// and both halves are idempotent.
func (b *Backend) recoverDelete(ctx context.Context, log *slog.Logger, op Op) error {
	if err := b.deleteEntry(ctx, op.Target); err != nil {
		return err
	}
	if err := b.store.DeleteGuest(ctx, op.Target); err != nil {
		return fmt.Errorf("delete the record: %w", err)
	}
	log.Info("recovery: finished interrupted delete: directory entry and record gone")
	return nil
}
