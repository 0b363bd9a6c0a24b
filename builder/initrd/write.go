package initrd

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"strings"
)

// File is a member of an archive written by Archive.
type File struct {
	Name string // relative path, e.g. "scripts/local-top/ORDER"
	Mode uint32 // st_mode including the type bits (ModeDir, ModeRegular, ModeSymlink)
	Data []byte // content, or a symlink's target
}

// inoBase is where the inode numbers of written archives start. Every file
// is written with nlink 1 (directories 2), so the kernel never treats two
// entries as hard links and the numbers only need to be deterministic.
const inoBase = 0x7a670000

// Archive returns a newc cpio archive of files, in the order given, ending
// in TRAILER!!! and padded to 4 bytes. It is reproducible: mtimes are 0,
// owners are root, inode numbers follow the order.
func Archive(files []File) ([]byte, error) {
	var b bytes.Buffer
	for i, f := range files {
		name := cleanName(f.Name)
		if (name == "." && f.Mode&ModeType != ModeDir) || len(name)+1 > maxNameSize {
			return nil, fmt.Errorf("cpio: bad member name %q", f.Name)
		}
		nlink := uint32(1)
		data := f.Data
		switch f.Mode & ModeType {
		case ModeDir:
			nlink, data = 2, nil
		case ModeRegular, ModeSymlink:
		default:
			return nil, fmt.Errorf("cpio: %s: unsupported file type %#o", f.Name, f.Mode&ModeType)
		}
		if int64(len(data)) > 0xffffffff {
			return nil, fmt.Errorf("cpio: %s: too large for newc", f.Name)
		}
		writeHeader(&b, uint32(inoBase+i), f.Mode, nlink, uint32(len(data)), name)
		b.Write(data)
		b.Write(make([]byte, pad4(int64(b.Len()))))
	}
	writeHeader(&b, 0, 0, 1, 0, trailerName)
	return b.Bytes(), nil
}

func writeHeader(b *bytes.Buffer, ino, mode, nlink, size uint32, name string) {
	// magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
	fmt.Fprintf(b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	b.Write(make([]byte, pad4(int64(b.Len()))))
}

// GzipArchive is Archive compressed with gzip (no name, mtime 0), the form
// every kernel that boots an initramfs can unpack.
func GzipArchive(files []File) ([]byte, error) {
	raw, err := Archive(files)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// withParents returns files preceded by directory entries for their
// parents that exist is false for, sorted so parents come first.
func withParents(files []File, exists func(dir string) bool) []File {
	seen := map[string]bool{}
	var dirs []string
	for _, f := range files {
		for d := parentDir(f.Name); d != ""; d = parentDir(d) {
			if !seen[d] && !exists(d) {
				dirs = append(dirs, d)
			}
			seen[d] = true
		}
	}
	sort.Strings(dirs)
	out := make([]File, 0, len(dirs)+len(files))
	for _, d := range dirs {
		out = append(out, File{Name: d, Mode: ModeDir | 0o755})
	}
	return append(out, files...)
}

func parentDir(n string) string {
	i := strings.LastIndexByte(n, '/')
	if i <= 0 {
		return ""
	}
	return n[:i]
}
