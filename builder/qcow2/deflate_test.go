package qcow2

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	stdflate "compress/flate"

	"github.com/zguest/zguest/builder/internal/tooltest"
)

func deflateSamples() map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	random := make([]byte, 65536)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog; "), 1500)[:65536]
	mixed := make([]byte, 65536)
	for i := range mixed {
		mixed[i] = byte(rng.IntN(12)) + 'a'
	}
	far := make([]byte, 65536) // a phrase that repeats only 5000 bytes later
	copy(far, random[:5000])
	copy(far[5000:], random[:5000])
	onebyte := bytes.Repeat([]byte{7}, 65536)
	exe, _ := os.ReadFile("/bin/sh")
	if len(exe) > 65536 {
		exe = exe[:65536]
	}
	return map[string][]byte{"random": random, "text": text, "mixed": mixed, "far": far, "onebyte": onebyte,
		"exe": exe, "tiny": []byte("ab"), "single": {0},
		"high": {0x90, 0xff, 0xa0, 0x10, 0xc8}} // high literals: 9-bit fixed codes
}

// TestDeflateRoundTrip decodes our output with the standard library.
func TestDeflateRoundTrip(t *testing.T) {
	d := newDeflater()
	for name, in := range deflateSamples() {
		out := d.compress(nil, in)
		got, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(out)))
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%s: round trip failed: %v (%d -> %d bytes)", name, err, len(in), len(out))
		}
		for _, tk := range d.toks {
			if tk&matchFlag != 0 && int(tk&0xffff) > dfWindow {
				t.Errorf("%s: distance %d beyond the 4 KiB window", name, tk&0xffff)
			}
		}
	}
}

// TestDeflateZlibWindow12 decodes with zlib itself, configured as qemu
// configures it (raw inflate, windowBits -12), feeding the output in small
// pieces so that the 4 KiB window really limits the history.
func TestDeflateZlibWindow12(t *testing.T) {
	const py = "/usr/bin/python3"
	tooltest.RequireTool(t, py)
	dir := t.TempDir()
	d := newDeflater()
	for name, in := range deflateSamples() {
		p := filepath.Join(dir, name)
		os.WriteFile(p+".z", d.compress(nil, in), 0o644)
		os.WriteFile(p, in, 0o644)
		script := `
import sys, zlib
d = zlib.decompressobj(-12)
src = open(sys.argv[1] + ".z", "rb").read()
out = b""
for i in range(0, len(src), 7):
    out += d.decompress(src[i:i+7], 100)
    while d.unconsumed_tail:
        out += d.decompress(d.unconsumed_tail, 100)
out += d.flush()
assert d.eof, "stream not finished"
assert out == open(sys.argv[1], "rb").read(), "content differs"
`
		if out, err := exec.Command(py, "-c", script, p).CombinedOutput(); err != nil {
			t.Errorf("%s: zlib -12: %v\n%s", name, err, out)
		}
	}
}

func TestHuffLengthsLimited(t *testing.T) {
	// Fibonacci frequencies force very deep trees.
	freq := make([]int, 286)
	a, b := 1, 1
	for i := 0; i < 40; i++ {
		freq[i] = a
		a, b = b, a+b
	}
	lengths := make([]uint8, 286)
	huffLengths(freq, lengths, 15)
	kraft := 0.0
	for _, l := range lengths {
		if l > 15 {
			t.Fatalf("length %d over the limit", l)
		}
		if l > 0 {
			kraft += 1 / float64(int(1)<<l)
		}
	}
	if kraft != 1 {
		t.Fatalf("Kraft sum %v, want exactly 1", kraft)
	}
}

func BenchmarkDeflate(b *testing.B) {
	in := deflateSamples()["exe"]
	d := newDeflater()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d.compress(nil, in)
	}
}
