package qcow2

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestMutations feeds thousands of deterministic random corruptions of
// small images through the reader; each must end (quickly) with a result or
// a classified error. It found a loop in Data at a virtual size that is not
// a whole number of clusters.
func TestMutations(t *testing.T) {
	seeds := [][]byte{smallImage(t, Options{}), smallImage(t, Options{Compress: true}), smallImage(t, Options{Version: 2, Compress: true})}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5000; i++ {
		b := append([]byte(nil), seeds[rng.IntN(len(seeds))]...)
		for k := 0; k < 1+rng.IntN(8); k++ {
			p := rng.IntN(len(b))
			switch rng.IntN(4) {
			case 0:
				b[p] = byte(rng.Uint32())
			case 1:
				b[rng.IntN(104)] = byte(rng.Uint32())
			case 2:
				if p+8 <= len(b) {
					binary.BigEndian.PutUint64(b[p:], rng.Uint64()>>uint(rng.IntN(64)))
				}
			case 3:
				binary.BigEndian.PutUint64(b[rng.IntN(13)*8:], rng.Uint64()>>uint(rng.IntN(64)))
			}
		}
		if err := readAll(b); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("mutation %d: unclassified error %v", i, err)
		}
	}
}

func TestTinyVirtualSize(t *testing.T) {
	b := smallImage(t, Options{})
	binary.BigEndian.PutUint64(b[24:], 7) // 7-byte disk inside a 512-byte cluster
	if err := readAll(b); err != nil {
		t.Fatal(err)
	}
}
