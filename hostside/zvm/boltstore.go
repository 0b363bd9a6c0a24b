package zvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/zguest/zguest/hostside/store"
)

// BoltStore is the Store of the daemon: the guests, images and journal
// of hostside/store (a bbolt file, every write fsynced). A guest's disks
// and an image's format, which store has no fields for, are kept in the
// records' Meta.
type BoltStore struct{ s *store.Store }

var _ Store = (*BoltStore)(nil)

// NewBoltStore returns a Store over s.
func NewBoltStore(s *store.Store) *BoltStore { return &BoltStore{s: s} }

const (
	metaDisks  = "zvm_disks"
	metaFormat = "zvm_image_format"
)

func toStoreGuest(g Guest) (store.Guest, error) {
	sg := store.Guest{UserID: g.UserID, OSVersion: g.OSVersion, Progress: store.Created}
	if g.OSVersion != "" {
		sg.Progress = store.Deployed
	}
	for _, n := range g.NICs {
		sg.NICs = append(sg.NICs, store.NIC{Vdev: n.Vdev, MAC: n.MAC, NICID: n.NICID, VSwitch: n.VSwitch})
	}
	if len(g.Disks) > 0 {
		j, err := json.Marshal(g.Disks)
		if err != nil {
			return store.Guest{}, fmt.Errorf("guest %s: disks: %w", g.UserID, err)
		}
		sg.Meta = map[string]string{metaDisks: string(j)}
	}
	return sg, nil
}

func fromStoreGuest(sg store.Guest) (Guest, error) {
	g := Guest{UserID: sg.UserID, OSVersion: sg.OSVersion}
	for _, n := range sg.NICs {
		g.NICs = append(g.NICs, NIC{Vdev: n.Vdev, MAC: n.MAC, NICID: n.NICID, VSwitch: n.VSwitch})
	}
	if j := sg.Meta[metaDisks]; j != "" {
		if err := json.Unmarshal([]byte(j), &g.Disks); err != nil {
			return Guest{}, fmt.Errorf("guest %s: disks: %w", sg.UserID, err)
		}
	}
	return g, nil
}

// PutGuest implements Store, keeping the record's creation time.
func (b *BoltStore) PutGuest(_ context.Context, g Guest) error {
	sg, err := toStoreGuest(g)
	if err != nil {
		return err
	}
	return b.s.Update(func(t *store.Tx) error {
		if old, err := t.Guest(g.UserID); err == nil {
			sg.Created = old.Created
		}
		return t.PutGuest(sg)
	})
}

// Guest implements Store.
func (b *BoltStore) Guest(_ context.Context, userid string) (Guest, bool, error) {
	sg, err := b.s.Guest(userid)
	if errors.Is(err, store.ErrNotFound) {
		return Guest{}, false, nil
	}
	if err != nil {
		return Guest{}, false, err
	}
	g, err := fromStoreGuest(sg)
	return g, err == nil, err
}

// DeleteGuest implements Store.
func (b *BoltStore) DeleteGuest(_ context.Context, userid string) error {
	return b.s.DeleteGuest(userid)
}

// Guests implements Store, sorted by userid.
func (b *BoltStore) Guests(context.Context) ([]Guest, error) {
	l, err := b.s.Guests()
	if err != nil {
		return nil, err
	}
	out := make([]Guest, 0, len(l))
	for _, sg := range l {
		g, err := fromStoreGuest(sg)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func toStoreImage(im ImageRecord) store.Image {
	si := store.Image{Name: im.Name, OSVersion: im.OSVersion, MD5Sum: im.MD5, DiskSizeUnits: im.DiskUnits,
		SizeBytes: im.SizeBytes, Type: "rootonly", Path: im.Path, Comments: im.Comments}
	if im.ImageFormat != "" {
		si.Meta = map[string]string{metaFormat: im.ImageFormat}
	}
	if im.LastAccess > 0 {
		si.LastAccess = time.UnixMicro(int64(math.Round(im.LastAccess * 1e6)))
	}
	return si
}

func fromStoreImage(si store.Image) ImageRecord {
	im := ImageRecord{Name: si.Name, OSVersion: si.OSVersion, MD5: si.MD5Sum, DiskUnits: si.DiskSizeUnits,
		SizeBytes: si.SizeBytes, Path: si.Path, Comments: si.Comments, ImageFormat: si.Meta[metaFormat]}
	if !si.LastAccess.IsZero() {
		im.LastAccess = float64(si.LastAccess.UnixMicro()) / 1e6
	}
	return im
}

// PutImage implements Store.
func (b *BoltStore) PutImage(_ context.Context, im ImageRecord) error {
	return b.s.PutImage(toStoreImage(im))
}

// Image implements Store.
func (b *BoltStore) Image(_ context.Context, name string) (ImageRecord, bool, error) {
	si, err := b.s.Image(name)
	if errors.Is(err, store.ErrNotFound) {
		return ImageRecord{}, false, nil
	}
	if err != nil {
		return ImageRecord{}, false, err
	}
	return fromStoreImage(si), true, nil
}

// DeleteImage implements Store.
func (b *BoltStore) DeleteImage(_ context.Context, name string) error {
	return b.s.DeleteImage(name)
}

// Images implements Store, sorted by name.
func (b *BoltStore) Images(context.Context) ([]ImageRecord, error) {
	l, err := b.s.Images()
	if err != nil {
		return nil, err
	}
	out := make([]ImageRecord, 0, len(l))
	for _, si := range l {
		out = append(out, fromStoreImage(si))
	}
	return out, nil
}

// Begin implements Journal.
func (b *BoltStore) Begin(_ context.Context, kind, target string, data any) (uint64, error) {
	op, err := b.s.Begin(kind, target, data)
	return op.ID, err
}

// Step implements Journal.
func (b *BoltStore) Step(_ context.Context, id uint64, step string, data any) error {
	return b.s.Step(id, step, data)
}

// End implements Journal.
func (b *BoltStore) End(_ context.Context, id uint64) error { return b.s.End(id) }

// Pending implements Journal.
func (b *BoltStore) Pending(context.Context) ([]Op, error) {
	l, err := b.s.Pending()
	if err != nil {
		return nil, err
	}
	out := make([]Op, 0, len(l))
	for _, op := range l {
		out = append(out, Op{ID: op.ID, Kind: op.Kind, Target: op.Target, Step: op.Step, Data: op.Data})
	}
	return out, nil
}
