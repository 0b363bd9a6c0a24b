package dpm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestConfigDrivePlan(t *testing.T) {
	img := make([]byte, 4*mib)
	mbr := img[:512]
	mbr[0x1be+4] = 0x83
	binary.LittleEndian.PutUint32(mbr[0x1be+8:], 2048)
	binary.LittleEndian.PutUint32(mbr[0x1be+12:], uint32(3*mib/512))
	mbr[510], mbr[511] = 0x55, 0xaa
	drive := make([]byte, 300000)
	vol := 20 * gib
	off, got, err := configDrivePlan(bytes.NewReader(img), int64(len(img)), vol, drive)
	if err != nil || off != vol-mib {
		t.Fatalf("plan: offset %d %v, want %d", off, err, vol-mib)
	}
	p := got[0x1be+16:]
	if p[4] != 0x83 || binary.LittleEndian.Uint32(p[8:]) != uint32((vol-mib)/512) || binary.LittleEndian.Uint32(p[12:]) != uint32(mib/512) {
		t.Errorf("partition 2 entry % x", p[:16])
	}
	if !bytes.Equal(got[0x1be:0x1be+16], img[0x1be:0x1be+16]) {
		t.Error("partition 1 changed")
	}
	if _, _, err := configDrivePlan(bytes.NewReader(img), int64(len(img)), 4*mib, drive); err == nil {
		t.Error("no room after the image, yet planned")
	}
	if _, _, err := configDrivePlan(bytes.NewReader(make([]byte, mib)), mib, vol, drive); err == nil {
		t.Error("no partition table, yet planned")
	}
	full := bytes.Clone(img)
	for i := 1; i < 4; i++ {
		full[0x1be+16*i+4] = 0x83
	}
	if _, _, err := configDrivePlan(bytes.NewReader(full), int64(len(full)), vol, drive); err == nil {
		t.Error("full table, yet planned")
	}
}
