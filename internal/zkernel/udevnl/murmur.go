package udevnl

import "encoding/binary"

// MurmurHash2 is Austin Appleby's MurmurHash2 as systemd uses it
// (src/basic/MurmurHash2.c): 4-byte blocks are read in the host's byte
// order, the 1-3 byte tail byte by byte.
func MurmurHash2(data []byte, seed uint32) uint32 {
	const (
		m = 0x5bd1e995
		r = 24
	)
	h := seed ^ uint32(len(data))
	for len(data) >= 4 {
		k := binary.NativeEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// StringHash is systemd's string_hash32: MurmurHash2 with seed 0.
func StringHash(s string) uint32 { return MurmurHash2([]byte(s), 0) }
