package hmcsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// VolumeFile is the backing file of the storage volume with this uuid
// in dir: the name udev gives a SCSI disk's link under /dev/disk/by-id
// from its NAA identifier, so that a writer resolving the real link
// finds the simulated volume the same way.
func VolumeFile(dir, uuid string) string {
	return filepath.Join(dir, "wwn-0x"+strings.ToLower(uuid))
}

// makeVolumeFiles makes each volume's sparse backing file in VolumeDir.
func (s *Sim) makeVolumeFiles() error {
	if s.opts.VolumeDir == "" {
		return nil
	}
	for _, v := range s.volumes {
		if v.UUID == "" {
			continue
		}
		path := VolumeFile(s.opts.VolumeDir, v.UUID)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("hmcsim: volume %s: %w", v.uri, err)
		}
		st, err := f.Stat()
		if err == nil && st.Size() == 0 {
			err = f.Truncate(int64(v.Size) << 30)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("hmcsim: volume %s: %w", v.uri, err)
		}
	}
	return nil
}
