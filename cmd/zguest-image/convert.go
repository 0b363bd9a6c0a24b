package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/builder/fileout"
	"github.com/zguest/zguest/builder/progress"
	"github.com/zguest/zguest/builder/qcow2"
)

// openSource opens a raw or qcow2 image and tells which it is.
func openSource(path string) (src qcow2.Source, im *qcow2.Image, f *os.File, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	var m [4]byte
	if n, _ := f.ReadAt(m[:], 0); n == 4 && string(m[:]) == "QFI\xfb" {
		im, err = qcow2.Open(f, st.Size())
		if err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return im, im, f, nil
	}
	rf, err := qcow2.NewRawFile(f)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return rf, nil, f, nil
}

func (e *env) convert(args []string) error {
	fs := e.newFlags("convert", "convert [--compress] [--compat 0.10|1.1] [-O raw|qcow2] in out")
	compress := fs.Bool("compress", false, "qcow2: deflate clusters (qemu-img convert -c)")
	compat := fs.String("compat", "1.1", "qcow2 version: 1.1 (v3) or 0.10 (v2)")
	outFmt := fs.String("O", "", "output format raw or qcow2 (default: from the extension, else the other format)")
	clusterSize := fs.Int("cluster-size", 64<<10, "qcow2 cluster size in bytes, a power of two from 512 to 2 MiB")
	sync := fs.Bool("sync", false, "fsync the output before renaming it into place (qemu-img convert does not: its default cache mode for convert is unsafe)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: convert needs an input and an output file", errUsage)
	}
	in, out := fs.Arg(0), fs.Arg(1)
	var version int
	switch *compat {
	case "1.1":
		version = 3
	case "0.10":
		version = 2
	default:
		return fmt.Errorf("%w: --compat %q: want 1.1 or 0.10", errUsage, *compat)
	}
	bits := uint32(0)
	for c := *clusterSize; c > 1; c >>= 1 {
		bits++
	}
	if 1<<bits != *clusterSize || bits < qcow2.MinClusterBits || bits > qcow2.MaxClusterBits {
		return fmt.Errorf("%w: --cluster-size %d: want a power of two from 512 to 2097152", errUsage, *clusterSize)
	}
	src, im, f, err := openSource(in)
	if err != nil {
		return err
	}
	defer f.Close()
	format := *outFmt
	if format == "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".qcow2", ".qcow":
			format = "qcow2"
		case ".raw", ".img":
			format = "raw"
		default:
			format = "qcow2"
			if im != nil {
				format = "raw"
			}
		}
	}
	if format != "raw" && format != "qcow2" {
		return fmt.Errorf("%w: -O %q: want raw or qcow2", errUsage, format)
	}
	dst, err := fileout.Create(out)
	if err != nil {
		return err
	}
	defer dst.Abort()
	bar := progress.New(os.Stderr, "convert")
	start := time.Now()
	var update func(done, total int64)
	if bar != nil {
		update = bar.Update
	}
	if format == "qcow2" {
		_, err = qcow2.Write(dst.File, src, qcow2.Options{Version: version, ClusterBits: bits, Compress: *compress, Progress: update})
	} else {
		_, err = qcow2.WriteRaw(dst.File, src, update)
	}
	bar.Done()
	if err != nil {
		return fmt.Errorf("convert %s to %s: %w", in, out, err)
	}
	if err := dst.Commit(*sync); err != nil {
		return err
	}
	e.logger(false).Debug("converted", "in", in, "out", out, "elapsed", time.Since(start))
	return nil
}

// inspectInfo is what inspect prints; JSON field names are stable.
type inspectInfo struct {
	File               string   `json:"file"`
	Format             string   `json:"format"`
	Version            int      `json:"version,omitempty"`
	Compat             string   `json:"compat,omitempty"`
	VirtualSize        int64    `json:"virtual_size"`
	FileSize           int64    `json:"file_size"`
	ClusterSize        int64    `json:"cluster_size,omitempty"`
	RefcountBits       int      `json:"refcount_bits,omitempty"`
	DataClusters       int64    `json:"data_clusters"`
	CompressedClusters int64    `json:"compressed_clusters"`
	ZeroClusters       int64    `json:"zero_clusters"`
	AllocatedBytes     int64    `json:"allocated_bytes"`
	L2Tables           int64    `json:"l2_tables,omitempty"`
	Dirty              bool     `json:"dirty,omitempty"`
	Snapshots          int      `json:"snapshots,omitempty"`
	CheckOK            *bool    `json:"check_ok,omitempty"`
	Corruptions        int64    `json:"corruptions,omitempty"`
	Leaks              int64    `json:"leaks,omitempty"`
	Problems           []string `json:"problems,omitempty"`
}

func (e *env) inspect(args []string) error {
	fs := e.newFlags("inspect", "inspect [--json] [--check=false] image")
	asJSON := fs.Bool("json", false, "print JSON")
	check := fs.Bool("check", true, "qcow2: verify refcounts against the mapping tables, like qemu-img check")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: inspect needs one image", errUsage)
	}
	path := fs.Arg(0)
	src, im, f, err := openSource(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	info := inspectInfo{File: path, Format: "raw", VirtualSize: src.Size(), FileSize: st.Size()}
	var checkErr error
	if im != nil {
		h := im.Header()
		s, err := im.Stats()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		info.Format, info.Version, info.Compat = "qcow2", int(h.Version), h.Compat()
		info.ClusterSize, info.RefcountBits = h.ClusterSize(), 1<<h.RefcountOrder
		info.DataClusters, info.CompressedClusters, info.ZeroClusters = s.DataClusters, s.CompressedClusters, s.ZeroFlagClusters
		info.AllocatedBytes = (s.DataClusters + s.CompressedClusters) * h.ClusterSize()
		info.L2Tables = s.L2Tables
		info.Dirty = h.IncompatibleFeatures&1 != 0
		info.Snapshots = int(h.NbSnapshots)
		if *check {
			r, err := im.Check()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			ok := r.OK()
			info.CheckOK, info.Corruptions, info.Leaks, info.Problems = &ok, r.Corruptions, r.Leaks, r.Messages
			if r.Corruptions > 0 {
				checkErr = fmt.Errorf("%s: %w: %d clusters with a wrong refcount", path, qcow2.ErrCorrupt, r.Corruptions)
			}
		}
	} else {
		for off := int64(0); ; {
			start, end, err := src.Data(off)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			info.AllocatedBytes += end - start
			off = end
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(info); err != nil {
			return err
		}
		return checkErr
	}
	w := e.stdout
	fmt.Fprintf(w, "file:             %s\n", info.File)
	fmt.Fprintf(w, "format:           %s\n", info.Format)
	if im != nil {
		fmt.Fprintf(w, "version:          %d (compat %s)\n", info.Version, info.Compat)
	}
	fmt.Fprintf(w, "virtual size:     %s (%d bytes)\n", human(info.VirtualSize), info.VirtualSize)
	fmt.Fprintf(w, "file size:        %s (%d bytes)\n", human(info.FileSize), info.FileSize)
	if im != nil {
		fmt.Fprintf(w, "cluster size:     %d\n", info.ClusterSize)
		fmt.Fprintf(w, "refcount bits:    %d\n", info.RefcountBits)
		pct := 0.0
		if vc := (info.VirtualSize + info.ClusterSize - 1) / info.ClusterSize; vc > 0 {
			pct = 100 * float64(info.DataClusters+info.CompressedClusters) / float64(vc)
		}
		fmt.Fprintf(w, "allocated:        %d data + %d compressed clusters (%.2f%% of the disk), %d zero\n",
			info.DataClusters, info.CompressedClusters, pct, info.ZeroClusters)
		fmt.Fprintf(w, "L2 tables:        %d\n", info.L2Tables)
		if info.Dirty {
			fmt.Fprintf(w, "dirty:            yes (refcounts may be stale)\n")
		}
		if info.Snapshots > 0 {
			fmt.Fprintf(w, "snapshots:        %d (not followed)\n", info.Snapshots)
		}
		if info.CheckOK != nil {
			if *info.CheckOK {
				fmt.Fprintf(w, "check:            no errors, no leaks\n")
			} else {
				fmt.Fprintf(w, "check:            %d corruptions, %d leaked clusters\n", info.Corruptions, info.Leaks)
				for _, p := range info.Problems {
					fmt.Fprintf(w, "  %s\n", p)
				}
			}
		}
	} else {
		fmt.Fprintf(w, "allocated:        %s (%d bytes of data extents)\n", human(info.AllocatedBytes), info.AllocatedBytes)
	}
	return checkErr
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
