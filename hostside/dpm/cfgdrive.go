package dpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/zguest/zguest/hostside/api"
	"github.com/zguest/zguest/hostside/imagerepo"
)

// The config drive nova sends as transportfiles: a partition has no
// virtual reader, so the deploy writes the drive (an ISO 9660 file
// system labelled config-2) at the end of the boot volume and adds it to
// the volume's DOS partition table as partition 2, where cloud-init's
// ConfigDrive data source finds it by its label. The root partition can
// then grow up to it. An image without a DOS table, or without a free
// entry, gets no config drive (logged).

const (
	mib            = int64(1) << 20
	maxConfigDrive = 64 * mib // nova's drives are well under 1 MiB
)

// fetchConfigDrive copies the transport file (local, or by scp from
// remote) into a temporary file and returns its contents.
func (b *Backend) fetchConfigDrive(ctx context.Context, userid string, d api.DeploySpec) ([]byte, error) {
	if !filepath.IsAbs(d.TransportFiles) {
		return nil, inputErr(api.ModGuest, "transportfiles %q: want an absolute path", d.TransportFiles)
	}
	tmp, err := os.MkdirTemp("", "zguest-dpm-"+userid+"-")
	if err != nil {
		return nil, internal(api.ModGuest, err)
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "cfgdrive")
	if d.RemoteHost != "" {
		if err := b.cfg.SCP.Get(ctx, d.RemoteHost, d.TransportFiles, dst); err != nil {
			return nil, internal(api.ModGuest, fmt.Errorf("transport file: %w", err))
		}
	} else if _, _, err := imagerepo.CopyHash(ctx, b.cfg.Sources, d.TransportFiles, dst); err != nil {
		return nil, internal(api.ModGuest, fmt.Errorf("transport file: %w", err))
	}
	st, err := os.Stat(dst)
	if err != nil {
		return nil, internal(api.ModGuest, err)
	}
	if st.Size() == 0 || st.Size() > maxConfigDrive {
		return nil, inputErr(api.ModGuest, "transport file %s is %d bytes: want a config drive of at most %d", d.TransportFiles, st.Size(), maxConfigDrive)
	}
	return os.ReadFile(dst)
}

// configDrivePlan is where the drive goes: the byte offset (1 MiB
// aligned, at the volume's end) and the patched first sector. ok is
// false when the image's partition table cannot take it.
func configDrivePlan(img io.ReaderAt, imgSize, volSize int64, drive []byte) (off int64, mbr []byte, why error) {
	mbr = make([]byte, 512)
	if _, err := img.ReadAt(mbr, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, nil, errors.New("the image has no DOS partition table")
	}
	size := (int64(len(drive)) + mib - 1) / mib * mib
	off = volSize/mib*mib - size
	if off < (imgSize+mib-1)/mib*mib {
		return 0, nil, fmt.Errorf("the volume has no room after the image for a %d MiB config drive", size/mib)
	}
	slot := -1
	for i := 0; i < 4; i++ {
		p := mbr[0x1be+16*i:]
		if p[4] == 0xee {
			return 0, nil, errors.New("the image has a GPT")
		}
		if p[4] == 0 && slot < 0 {
			slot = i
		}
	}
	if slot < 0 || off/512 > 0xffffffff {
		return 0, nil, errors.New("the DOS partition table has no free entry within 2 TiB")
	}
	p := mbr[0x1be+16*slot:]
	p[0] = 0
	copy(p[1:4], []byte{0xfe, 0xff, 0xff})
	p[4] = 0x83
	copy(p[5:8], []byte{0xfe, 0xff, 0xff})
	binary.LittleEndian.PutUint32(p[8:], uint32(off/512))
	binary.LittleEndian.PutUint32(p[12:], uint32(size/512))
	return off, mbr, nil
}
