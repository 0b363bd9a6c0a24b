package zvm

import (
	"context"
	"slices"
	"sort"
	"sync"
)

// Guest is what the backend remembers about a guest.
type Guest struct {
	UserID    string
	OSVersion string
	Disks     []DiskRecord
	NICs      []NIC
}

// DiskRecord is a minidisk created for a guest.
type DiskRecord struct {
	Vdev  string
	Type  string // "3390" or "9336"
	Pool  string
	Units int32 // cylinders or 512-byte blocks
}

// NIC is a virtual NIC of a guest.
type NIC struct {
	Vdev  string // "1000"
	MAC   string // "02:00:00:12:34:56", "" if none given
	NICID string
	// VSwitch is the vswitch the NIC is coupled to in the directory
	// ("" if none).
	VSwitch string
}

// ImageRecord is an image in the repository.
type ImageRecord struct {
	Name        string
	OSVersion   string
	MD5         string
	DiskUnits   string // "3338:CYL"
	SizeBytes   int64
	Path        string
	Comments    string
	LastAccess  float64
	ImageFormat string // "raw", "xcat-ckd", "xcat-fba"
}

// Store keeps the backend's state and the journal of its operations in
// progress. Implementations must be safe for concurrent use.
type Store interface {
	Journal
	PutGuest(ctx context.Context, g Guest) error
	Guest(ctx context.Context, userid string) (Guest, bool, error)
	DeleteGuest(ctx context.Context, userid string) error
	Guests(ctx context.Context) ([]Guest, error)
	PutImage(ctx context.Context, im ImageRecord) error
	Image(ctx context.Context, name string) (ImageRecord, bool, error)
	DeleteImage(ctx context.Context, name string) error
	Images(ctx context.Context) ([]ImageRecord, error)
}

// MemStore is an in-memory Store.
type MemStore struct {
	mu      sync.Mutex
	guests  map[string]Guest
	images  map[string]ImageRecord
	journal memJournal
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{guests: map[string]Guest{}, images: map[string]ImageRecord{}}
}

func clone(g Guest) Guest {
	g.Disks = slices.Clone(g.Disks)
	g.NICs = slices.Clone(g.NICs)
	return g
}

// PutGuest implements Store.
func (m *MemStore) PutGuest(_ context.Context, g Guest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.guests[g.UserID] = clone(g)
	return nil
}

// Guest implements Store.
func (m *MemStore) Guest(_ context.Context, id string) (Guest, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.guests[id]
	return clone(g), ok, nil
}

// DeleteGuest implements Store.
func (m *MemStore) DeleteGuest(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.guests, id)
	return nil
}

// Guests implements Store, sorted by userid.
func (m *MemStore) Guests(context.Context) ([]Guest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Guest, 0, len(m.guests))
	for _, g := range m.guests {
		out = append(out, clone(g))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out, nil
}

// PutImage implements Store.
func (m *MemStore) PutImage(_ context.Context, im ImageRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.images[im.Name] = im
	return nil
}

// Image implements Store.
func (m *MemStore) Image(_ context.Context, name string) (ImageRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	im, ok := m.images[name]
	return im, ok, nil
}

// DeleteImage implements Store.
func (m *MemStore) DeleteImage(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.images, name)
	return nil
}

// Images implements Store, sorted by name.
func (m *MemStore) Images(context.Context) ([]ImageRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ImageRecord, 0, len(m.images))
	for _, im := range m.images {
		out = append(out, im)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
