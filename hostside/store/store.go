// Package store is zguest-hostd's crash-safe state on local disk: the
// guests it manages (userid, os_version, NICs, create/deploy progress),
// the images it imported, and a journal of operations in progress, so
// that a daemon killed in the middle of a create or deploy finds on
// restart what it left half done and its backend can finish or roll it
// back.
//
// It is a bbolt database (go.etcd.io/bbolt, pinned in go.mod): one file,
// copy-on-write B+tree pages, every Update committed with fsync before
// it returns, so a crash leaves either the old or the new state and
// never a torn record. That is the property an append-only log with
// fsync and compaction would have to build by hand; bbolt is pure Go
// (CGO_ENABLED=0), embedded and used by etcd, so we take it. Records are
// JSON so that `bbolt get` shows them to a person. An exclusive flock
// keeps a second daemon off the same file.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketGuests  = []byte("guests")
	bucketImages  = []byte("images")
	bucketJournal = []byte("journal")
)

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("not found")

// Progress of a guest through nova's spawn sequence.
const (
	Creating  = "creating"  // directory entry being made
	Created   = "created"   // directory entry and disks exist
	Deploying = "deploying" // image being written, files being punched
	Deployed  = "deployed"
	Deleting  = "deleting"
)

// Guest is what the daemon knows of one guest beyond the hypervisor's
// own directory.
type Guest struct {
	UserID    string            `json:"userid"`
	OSVersion string            `json:"os_version,omitempty"`
	Progress  string            `json:"progress"`
	Image     string            `json:"image,omitempty"`
	NICs      []NIC             `json:"nics,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"` // backend-specific
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
}

// NIC is one NIC of a guest.
type NIC struct {
	Vdev    string `json:"vdev"`
	MAC     string `json:"mac,omitempty"`
	NICID   string `json:"nic_id,omitempty"`
	VSwitch string `json:"vswitch,omitempty"`
}

// Image is one image of the local repository.
type Image struct {
	Name          string            `json:"name"`
	OSVersion     string            `json:"os_version"`
	MD5Sum        string            `json:"md5sum,omitempty"`
	DiskSizeUnits string            `json:"disk_size_units,omitempty"` // "3338:CYL"
	SizeBytes     int64             `json:"size_bytes"`
	Type          string            `json:"type,omitempty"` // "rootonly"
	Path          string            `json:"path"`
	Comments      string            `json:"comments,omitempty"`
	Meta          map[string]string `json:"meta,omitempty"`
	Imported      time.Time         `json:"imported"`
	LastAccess    time.Time         `json:"last_access"`
}

// Op is one journal entry: an operation that has begun and not ended.
// Step and Data record how far it got, in the backend's own terms.
type Op struct {
	ID      uint64          `json:"id"`
	Kind    string          `json:"kind"`   // "create", "deploy", "delete", "import", ...
	Target  string          `json:"target"` // userid or image name
	Step    string          `json:"step,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Started time.Time       `json:"started"`
	Updated time.Time       `json:"updated"`
}

// Store is an open state file.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

// Open opens (creating if needed) the store at path. A second Open of
// the same file, from this or another process, fails after timeout.
func Open(path string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketGuests, bucketImages, bucketJournal} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: initializing %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Tx is one atomic, durable change: everything done through it is on
// disk when Update returns nil, or none of it is.
type Tx struct {
	tx  *bolt.Tx
	now time.Time
}

// Update runs fn in a read-write transaction and commits it (fsync).
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, now: s.now()}) })
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, now: s.now()}) })
}

func put(b *bolt.Bucket, key []byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, j)
}

func get(b *bolt.Bucket, key []byte, v any) error {
	j := b.Get(key)
	if j == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(j, v); err != nil {
		return fmt.Errorf("store: record %q: %w", key, err)
	}
	return nil
}

// PutGuest writes g, stamping Updated (and Created the first time).
func (t *Tx) PutGuest(g Guest) error {
	if g.UserID == "" {
		return errors.New("store: guest without userid")
	}
	if g.Created.IsZero() {
		g.Created = t.now
	}
	g.Updated = t.now
	return put(t.tx.Bucket(bucketGuests), []byte(g.UserID), g)
}

// Guest reads one guest; ErrNotFound if absent.
func (t *Tx) Guest(userid string) (Guest, error) {
	var g Guest
	err := get(t.tx.Bucket(bucketGuests), []byte(userid), &g)
	return g, err
}

// DeleteGuest removes a guest (absent is fine).
func (t *Tx) DeleteGuest(userid string) error {
	return t.tx.Bucket(bucketGuests).Delete([]byte(userid))
}

// Guests lists every guest, by userid.
func (t *Tx) Guests() ([]Guest, error) {
	var out []Guest
	err := t.tx.Bucket(bucketGuests).ForEach(func(k, v []byte) error {
		var g Guest
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("store: guest %q: %w", k, err)
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// PutImage writes im.
func (t *Tx) PutImage(im Image) error {
	if im.Name == "" {
		return errors.New("store: image without name")
	}
	if im.Imported.IsZero() {
		im.Imported = t.now
	}
	return put(t.tx.Bucket(bucketImages), []byte(im.Name), im)
}

// Image reads one image; ErrNotFound if absent.
func (t *Tx) Image(name string) (Image, error) {
	var im Image
	err := get(t.tx.Bucket(bucketImages), []byte(name), &im)
	return im, err
}

// DeleteImage removes an image record (absent is fine).
func (t *Tx) DeleteImage(name string) error {
	return t.tx.Bucket(bucketImages).Delete([]byte(name))
}

// Images lists every image, by name.
func (t *Tx) Images() ([]Image, error) {
	var out []Image
	err := t.tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
		var im Image
		if err := json.Unmarshal(v, &im); err != nil {
			return fmt.Errorf("store: image %q: %w", k, err)
		}
		out = append(out, im)
		return nil
	})
	return out, err
}

func opKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// Begin journals the start of an operation and returns it with its id.
func (t *Tx) Begin(kind, target string, data any) (Op, error) {
	b := t.tx.Bucket(bucketJournal)
	id, err := b.NextSequence()
	if err != nil {
		return Op{}, err
	}
	op := Op{ID: id, Kind: kind, Target: target, Started: t.now, Updated: t.now}
	if data != nil {
		if op.Data, err = json.Marshal(data); err != nil {
			return Op{}, err
		}
	}
	return op, put(b, opKey(id), op)
}

// Step records that operation id reached step (data replaces the old,
// if not nil).
func (t *Tx) Step(id uint64, step string, data any) error {
	b := t.tx.Bucket(bucketJournal)
	var op Op
	if err := get(b, opKey(id), &op); err != nil {
		return fmt.Errorf("store: operation %d: %w", id, err)
	}
	op.Step, op.Updated = step, t.now
	if data != nil {
		j, err := json.Marshal(data)
		if err != nil {
			return err
		}
		op.Data = j
	}
	return put(b, opKey(id), op)
}

// End removes operation id from the journal: it finished or was rolled
// back.
func (t *Tx) End(id uint64) error {
	return t.tx.Bucket(bucketJournal).Delete(opKey(id))
}

// Pending lists the operations begun and not ended, oldest first.
func (t *Tx) Pending() ([]Op, error) {
	var out []Op
	err := t.tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
		var op Op
		if err := json.Unmarshal(v, &op); err != nil {
			return fmt.Errorf("store: operation %x: %w", k, err)
		}
		out = append(out, op)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Convenience wrappers, one transaction each.

// Guest reads one guest.
func (s *Store) Guest(userid string) (g Guest, err error) {
	err = s.View(func(t *Tx) error { g, err = t.Guest(userid); return err })
	return g, err
}

// PutGuest writes one guest.
func (s *Store) PutGuest(g Guest) error { return s.Update(func(t *Tx) error { return t.PutGuest(g) }) }

// DeleteGuest removes one guest.
func (s *Store) DeleteGuest(userid string) error {
	return s.Update(func(t *Tx) error { return t.DeleteGuest(userid) })
}

// Guests lists the guests.
func (s *Store) Guests() (l []Guest, err error) {
	err = s.View(func(t *Tx) error { l, err = t.Guests(); return err })
	return l, err
}

// Image reads one image.
func (s *Store) Image(name string) (im Image, err error) {
	err = s.View(func(t *Tx) error { im, err = t.Image(name); return err })
	return im, err
}

// PutImage writes one image.
func (s *Store) PutImage(im Image) error {
	return s.Update(func(t *Tx) error { return t.PutImage(im) })
}

// DeleteImage removes one image.
func (s *Store) DeleteImage(name string) error {
	return s.Update(func(t *Tx) error { return t.DeleteImage(name) })
}

// Images lists the images.
func (s *Store) Images() (l []Image, err error) {
	err = s.View(func(t *Tx) error { l, err = t.Images(); return err })
	return l, err
}

// Begin journals an operation.
func (s *Store) Begin(kind, target string, data any) (op Op, err error) {
	err = s.Update(func(t *Tx) error { op, err = t.Begin(kind, target, data); return err })
	return op, err
}

// Step records an operation's progress.
func (s *Store) Step(id uint64, step string, data any) error {
	return s.Update(func(t *Tx) error { return t.Step(id, step, data) })
}

// End ends an operation.
func (s *Store) End(id uint64) error { return s.Update(func(t *Tx) error { return t.End(id) }) }

// Pending lists unfinished operations (for recovery at startup).
func (s *Store) Pending() (l []Op, err error) {
	err = s.View(func(t *Tx) error { l, err = t.Pending(); return err })
	return l, err
}
