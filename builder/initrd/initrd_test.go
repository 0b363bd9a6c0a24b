package initrd

import (
	"github.com/zguest/zguest/internal/testutil"

	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const origOrder = `/scripts/local-top/lvm2 "$@"
[ -e /conf/param.conf ] && . /conf/param.conf
/scripts/local-top/cryptroot "$@"
[ -e /conf/param.conf ] && . /conf/param.conf
`

const upstreamParseZfcp = `#!/bin/sh
getargbool 1 rd.zfcp.conf -d -n rd_NO_ZFCPCONF || rm /etc/zfcp.conf
for zfcp_arg in $(getargs rd.zfcp -d 'rd_ZFCP='); do
    (
        IFS=","
        set $zfcp_arg
        echo "$@" >> /etc/zfcp.conf
    )
done
zfcp_cio_free
`

func reg(name, data string) File {
	return File{Name: name, Mode: ModeRegular | 0o644, Data: []byte(data)}
}
func exe(name, data string) File {
	return File{Name: name, Mode: ModeRegular | 0o755, Data: []byte(data)}
}
func dir(name string) File { return File{Name: name, Mode: ModeDir | 0o755} }

func mustArchive(t testing.TB, files []File) []byte {
	t.Helper()
	b, err := Archive(files)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zstdFrames(t testing.TB, data []byte, frames int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	step := len(data)/frames + 1
	for i := 0; i < len(data); i += step {
		out = enc.EncodeAll(data[i:min(i+step, len(data))], out)
	}
	return out
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// earlyCpio is the uncompressed microcode archive Debian and RHEL prepend,
// padded with zeros as the cpio tool does.
func earlyCpio(t testing.TB) []byte {
	b := mustArchive(t, []File{dir("kernel"), dir("kernel/x86"), dir("kernel/x86/microcode"), reg("kernel/x86/microcode/GenuineIntel.bin", strings.Repeat("µ", 300))})
	return append(b, make([]byte, 512-len(b)%512)...)
}

func itoolsFiles(withZfcp bool) []File {
	fs := []File{
		dir("."), exe("init", "#!/bin/sh\n. /scripts/functions\n"), dir("conf"), reg("conf/initramfs.conf", "MODULES=most\n"),
		dir("scripts"), reg("scripts/functions", "run_scripts() { :; }\n"), dir("scripts/local-top"),
		exe("scripts/local-top/lvm2", "#!/bin/sh\n"), exe("scripts/local-top/cryptroot", "#!/bin/sh\n"),
		reg("scripts/local-top/ORDER", origOrder),
		dir("usr"), dir("usr/lib"), dir("usr/lib/modules"), dir("usr/lib/modules/6.1.0-50-s390x"),
		reg("usr/lib/modules/6.1.0-50-s390x/modules.builtin", "kernel/drivers/s390/block/dasd_mod.ko\n"),
		{Name: "lib", Mode: ModeSymlink | 0o777, Data: []byte("usr/lib")},
		reg("usr/lib/modules/6.1.0-50-s390x/kernel/fs/ext4/ext4.ko", strings.Repeat("\x7fELF", 5000)),
	}
	if withZfcp {
		fs = append(fs, reg("usr/lib/modules/6.1.0-50-s390x/kernel/drivers/s390/scsi/zfcp.ko", "\x7fELF fake zfcp"))
	}
	return fs
}

// itoolsInitrd is an initramfs-tools-like image: early cpio, then the main
// archive split over several zstd frames (as zstd -T0 writes).
func itoolsInitrd(t testing.TB, withZfcp bool) []byte {
	return append(earlyCpio(t), zstdFrames(t, mustArchive(t, itoolsFiles(withZfcp)), 3)...)
}

func dracutInitrd(t testing.TB, hook string) []byte {
	fs := []File{
		dir("."), {Name: "lib", Mode: ModeSymlink | 0o777, Data: []byte("usr/lib")}, dir("usr"), dir("usr/lib"),
		dir("usr/lib/dracut"), dir("usr/lib/dracut/hooks"), dir("usr/lib/dracut/hooks/cmdline"),
		exe("usr/lib/dracut/hooks/cmdline/10-parse-root-opts.sh", "#!/bin/sh\n"),
		exe("init", "#!/usr/lib/systemd/systemd\n"),
	}
	if hook != "" {
		fs = append(fs, File{Name: "usr/lib/dracut/hooks/cmdline/30-parse-zfcp.sh", Mode: ModeRegular | 0o755, Data: []byte(hook)})
	}
	return append(earlyCpio(t), gz(t, mustArchive(t, fs))...)
}

func TestListItools(t *testing.T) {
	img := itoolsInitrd(t, true)
	es, err := List(img)
	if err != nil {
		t.Fatal(err)
	}
	m := Merged(es)
	if e := m["kernel/x86/microcode/GenuineIntel.bin"]; e.Archive != 0 || e.Compression != CompressNone || string(e.Data) != strings.Repeat("µ", 300) {
		t.Errorf("early cpio entry = %+v", e)
	}
	if e := m["scripts/local-top/ORDER"]; e.Archive != 1 || e.Compression != CompressZstd || string(e.Data) != origOrder {
		t.Errorf("ORDER = %+v", e)
	}
	if e := m["lib"]; !e.IsSymlink() || string(e.Data) != "usr/lib" {
		t.Errorf("lib = %+v", e)
	}
	if e := m["usr/lib/modules/6.1.0-50-s390x/kernel/fs/ext4/ext4.ko"]; e.Size != 20000 || e.Mode != ModeRegular|0o644 {
		t.Errorf("ext4.ko = %+v", e)
	}
	if k, err := Detect(es); err != nil || k != KindInitramfsTools {
		t.Errorf("Detect = %q, %v", k, err)
	}
	// Small MaxData keeps only small files.
	es, err = ListLimits(img, Limits{MaxData: 100})
	if err != nil {
		t.Fatal(err)
	}
	if e := Merged(es)["usr/lib/modules/6.1.0-50-s390x/kernel/fs/ext4/ext4.ko"]; e.Data != nil || e.Size != 20000 {
		t.Errorf("large file kept: size %d, len(data) %d", e.Size, len(e.Data))
	}
	es, err = ListLimits(img, Limits{Keep: func(n string) bool { return n == "init" }, MaxKept: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if m := Merged(es); m["init"].Data == nil || m["conf/initramfs.conf"].Data != nil || m["kernel/x86/microcode/GenuineIntel.bin"].Data != nil || string(m["lib"].Data) != "usr/lib" {
		t.Errorf("Keep: init %q, initramfs.conf %q, lib %q", m["init"].Data, m["conf/initramfs.conf"].Data, m["lib"].Data)
	}
	if _, err := ListLimits(img, Limits{MaxTotal: 10000}); err == nil || !strings.Contains(err.Error(), "larger than 10000") {
		t.Errorf("MaxTotal: err = %v", err)
	}
	if _, err := ListLimits(img, Limits{MaxEntries: 3}); err == nil || !strings.Contains(err.Error(), "more than 3") {
		t.Errorf("MaxEntries: err = %v", err)
	}
}

// TestListRealCpio reads archives written by GNU cpio and compressed by
// the real gzip and zstd tools.
func TestListRealCpio(t *testing.T) {
	for _, tool := range []string{"cpio", "gzip", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	d := t.TempDir()
	src := filepath.Join(d, "src")
	os.MkdirAll(filepath.Join(src, "scripts/local-top"), 0o755)
	os.WriteFile(filepath.Join(src, "scripts/local-top/ORDER"), []byte(origOrder), 0o644)
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("x"), 3<<20), 0o600)
	os.Symlink("usr/lib", filepath.Join(src, "lib"))
	sh := `cd src && find . | sort | cpio -o -H newc --quiet > ../a.cpio && cd .. &&
gzip -n -c a.cpio > a.gz && zstd -q -19 -c a.cpio > a.zst && cat a.cpio a.zst a.gz > all`
	if out, err := exec.Command("sh", "-c", "cd "+d+" && "+sh).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	img, _ := os.ReadFile(filepath.Join(d, "all"))
	es, err := List(img)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Name == "scripts/local-top/ORDER" {
			got = append(got, e.Compression)
			if string(e.Data) != origOrder {
				t.Errorf("ORDER in %s archive = %q", e.Compression, e.Data)
			}
		}
		if e.Name == "big" && (e.Size != 3<<20 || e.Data != nil || e.Mode != ModeRegular|0o600) {
			t.Errorf("big = size %d mode %o data %d", e.Size, e.Mode, len(e.Data))
		}
	}
	if strings.Join(got, ",") != "none,zstd,gzip" {
		t.Errorf("ORDER found in archives %v, want none,zstd,gzip", got)
	}
}

func TestListErrors(t *testing.T) {
	xz := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 40)...)
	for name, tc := range map[string]struct {
		img  []byte
		want string
	}{
		"xz":        {append(earlyCpio(t), xz...), "xz-compressed"},
		"garbage":   {[]byte("hello world"), "unknown data at offset 0"},
		"truncated": {mustArchive(t, itoolsFiles(true))[:1000], "unexpected EOF"},
		"bad gzip":  {[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}, "gzip"},
		"bad zstd":  {[]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x01}, "zstd"},
	} {
		_, err := List(tc.img)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
		if name == "xz" && (!errors.Is(err, ErrUnsupportedCompression) || !strings.Contains(err.Error(), "COMPRESS=zstd")) {
			t.Errorf("xz: err = %v", err)
		}
	}
}

func checkOverlay(t *testing.T, overlay []byte) map[string]Entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(overlay))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw)%4 != 0 || !bytes.Contains(raw, []byte("TRAILER!!!")) {
		t.Errorf("overlay: %d bytes, trailer %v", len(raw), bytes.Contains(raw, []byte("TRAILER!!!")))
	}
	es, err := List(overlay)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s owned by %d:%d", e.Name, e.UID, e.GID)
		}
	}
	testutil.RequireTool(t, "cpio") // the independent reader; the Makefile installs it
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v: %s", err, out)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if got, want := strings.TrimSpace(string(out)), strings.Join(names, "\n"); got != want {
		t.Errorf("cpio -t lists\n%s\nwant\n%s", got, want)
	}
	return Merged(es)
}

// lsinitramfs lists img with initramfs-tools' lsinitramfs.
func lsinitramfs(t *testing.T, img []byte) string {
	testutil.RequireTool(t, "lsinitramfs") // initramfs-tools-core; the Makefile installs it
	f := filepath.Join(t.TempDir(), "initrd.img")
	os.WriteFile(f, img, 0o644)
	out, err := exec.Command("lsinitramfs", f).CombinedOutput()
	if err != nil {
		t.Fatalf("lsinitramfs: %v: %s", err, out)
	}
	return string(out)
}

func TestZFCPIPLDevInitramfsTools(t *testing.T) {
	in := itoolsInitrd(t, true)
	overlay, kind, err := ZFCPIPLDev(in)
	if err != nil {
		t.Fatal(err)
	}
	if kind != KindInitramfsTools {
		t.Errorf("kind = %q", kind)
	}
	again, _, _ := ZFCPIPLDev(in)
	if !bytes.Equal(overlay, again) {
		t.Error("overlay not reproducible")
	}
	om := checkOverlay(t, overlay)
	if len(om) != 2 {
		t.Errorf("overlay has %d entries, want the script and ORDER (directories exist): %v", len(om), om)
	}

	all := append(append([]byte{}, in...), overlay...)
	es, err := List(all)
	if err != nil {
		t.Fatal(err)
	}
	m := Merged(es)
	wantOrder := origOrder + "/scripts/local-top/zguest_zfcp_ipldev \"$@\"\n[ -e /conf/param.conf ] && . /conf/param.conf\n"
	if e := m["scripts/local-top/ORDER"]; string(e.Data) != wantOrder || e.Archive != 2 || e.Mode != ModeRegular|0o644 {
		t.Errorf("merged ORDER (archive %d, mode %o) =\n%s\nwant\n%s", e.Archive, e.Mode, e.Data, wantOrder)
	}
	if e := m["scripts/local-top/zguest_zfcp_ipldev"]; !bytes.Equal(e.Data, itoolsScript) || e.Mode != ModeRegular|0o755 {
		t.Errorf("script: mode %o, %d bytes", e.Mode, len(e.Data))
	}
	if e := m["lib"]; !e.IsSymlink() {
		t.Errorf("lib no longer a symlink: %+v", e)
	}
	if k, err := Detect(es); err != nil || k != KindInitramfsTools {
		t.Errorf("Detect(after) = %q, %v", k, err)
	}

	// Applying it twice does not add the line twice.
	overlay2, _, err := ZFCPIPLDev(all)
	if err != nil {
		t.Fatal(err)
	}
	es, _ = List(append(all, overlay2...))
	if got := string(Merged(es)["scripts/local-top/ORDER"].Data); got != wantOrder {
		t.Errorf("ORDER after second overlay =\n%s", got)
	}

	// lsinitramfs (unmkinitramfs) reads the early archives and then only the
	// first archive of the compressed rest, so it cannot show an appended
	// archive (the kernel unpacks it: TestBootDebianInitrdWithOverlay).
	// Check that it still reads the combined image and reads the overlay.
	{
		out := lsinitramfs(t, all)
		for _, want := range []string{"kernel/x86/microcode/GenuineIntel.bin", "scripts/local-top/lvm2", "usr/lib/modules/6.1.0-50-s390x/kernel/drivers/s390/scsi/zfcp.ko"} {
			if !strings.Contains(out, want) {
				t.Errorf("lsinitramfs of input+overlay does not list %s:\n%s", want, out)
			}
		}
	}
	if out := lsinitramfs(t, overlay); out != "scripts/local-top/zguest_zfcp_ipldev\nscripts/local-top/ORDER\n" {
		t.Errorf("lsinitramfs of the overlay:\n%s", out)
	}
}

func TestZFCPIPLDevInitramfsToolsNoOrder(t *testing.T) {
	var fs []File
	for _, f := range itoolsFiles(true) {
		if !strings.HasPrefix(f.Name, "scripts/local-top") {
			fs = append(fs, f)
		}
	}
	overlay, _, err := ZFCPIPLDev(gz(t, mustArchive(t, fs)))
	if err != nil {
		t.Fatal(err)
	}
	es, _ := List(overlay)
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, " "); got != "scripts/local-top scripts/local-top/zguest_zfcp_ipldev scripts/local-top/ORDER" {
		t.Errorf("overlay entries %s", got)
	}
	if got := string(Merged(es)["scripts/local-top/ORDER"].Data); got != "/scripts/local-top/zguest_zfcp_ipldev \"$@\"\n[ -e /conf/param.conf ] && . /conf/param.conf\n" {
		t.Errorf("ORDER = %q", got)
	}
}

func TestZFCPIPLDevDracut(t *testing.T) {
	in := dracutInitrd(t, upstreamParseZfcp)
	overlay, kind, err := ZFCPIPLDev(in)
	if err != nil {
		t.Fatal(err)
	}
	if kind != KindDracut {
		t.Errorf("kind = %q", kind)
	}
	om := checkOverlay(t, overlay)
	if len(om) != 1 {
		t.Errorf("overlay entries %v", om)
	}
	all := append(append([]byte{}, in...), overlay...)
	es, err := List(all)
	if err != nil {
		t.Fatal(err)
	}
	e := Merged(es)["usr/lib/dracut/hooks/cmdline/30-parse-zfcp.sh"]
	if !bytes.Equal(e.Data, dracutHook) || e.Mode != ModeRegular|0o755 || e.Archive != 2 {
		t.Errorf("hook: archive %d mode %o data %q", e.Archive, e.Mode, e.Data)
	}
	if out := lsinitramfs(t, all); !strings.Contains(out, "usr/lib/dracut/hooks/cmdline/10-parse-root-opts.sh") {
		t.Errorf("lsinitramfs of input+overlay:\n%s", out)
	}
	if out := lsinitramfs(t, overlay); out != "usr/lib/dracut/hooks/cmdline/30-parse-zfcp.sh\n" {
		t.Errorf("lsinitramfs of the overlay:\n%s", out)
	}
}

func TestZFCPIPLDevErrors(t *testing.T) {
	zdev := "#!/bin/sh\nchzdev zfcp-lun -e $zdev_zfcp_arg\n"
	for name, tc := range map[string]struct {
		img  []byte
		want string
	}{
		"no zfcp.ko": {itoolsInitrd(t, false), "lacks the zfcp driver"},
		"no hook":    {dracutInitrd(t, ""), "add_dracutmodules+=\" zfcp \""},
		"zdev hook":  {dracutInitrd(t, zdev), "s390-tools zdev"},
		"neither":    {gz(t, mustArchive(t, []File{exe("init", "#!/bin/sh\n")})), "neither initramfs-tools"},
		"empty":      {nil, "neither initramfs-tools"},
	} {
		_, _, err := ZFCPIPLDev(tc.img)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	// zfcp built in (modules.builtin) is fine.
	fs := itoolsFiles(false)
	for i := range fs {
		if strings.HasSuffix(fs[i].Name, "modules.builtin") {
			fs[i].Data = append(fs[i].Data, "kernel/drivers/s390/scsi/zfcp.ko\n"...)
		}
	}
	if _, _, err := ZFCPIPLDev(gz(t, mustArchive(t, fs))); err != nil {
		t.Errorf("built-in zfcp: %v", err)
	}
}

func TestGuestFiles(t *testing.T) {
	it := GuestFiles(KindInitramfsTools)
	if !bytes.Equal(it["/etc/initramfs-tools/scripts/local-top/zguest_zfcp_ipldev"], itoolsScript) || !bytes.Contains(it["/etc/initramfs-tools/hooks/zguest_zfcp"], []byte("manual_add_modules zfcp")) || len(it) != 2 {
		t.Errorf("initramfs-tools files: %v", it)
	}
	dr := GuestFiles(KindDracut)
	if !bytes.Equal(dr["/usr/lib/dracut/modules.d/96zguest-zfcp/parse-zfcp.sh"], dracutHook) || len(dr) != 2 {
		t.Errorf("dracut files: %v", dr)
	}
	if GuestFiles("mkinitcpio") != nil {
		t.Error("unknown kind has files")
	}
	for _, files := range []map[string][]byte{it, dr} {
		for p, b := range files {
			if !bytes.HasPrefix(b, []byte("#!/bin/")) {
				t.Errorf("%s has no #! line", p)
			}
		}
	}
}

func TestArchiveErrors(t *testing.T) {
	if _, err := Archive([]File{{Name: "/", Mode: ModeRegular}}); err == nil {
		t.Error("root name accepted")
	}
	if _, err := Archive([]File{{Name: "dev/null", Mode: 0o020666}}); err == nil {
		t.Error("device accepted")
	}
}

func FuzzList(f *testing.F) {
	f.Add(itoolsInitrd(f, true))
	f.Add(dracutInitrd(f, upstreamParseZfcp))
	f.Add(mustArchive(f, []File{reg("a", "b")}))
	f.Add([]byte("070701"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ListLimits(b, Limits{MaxData: 1 << 16, MaxTotal: 64 << 20, MaxEntries: 10000})
		if err == nil {
			Detect(es)
			ZFCPIPLDev(b)
		}
	})
}

func TestAppendOrder(t *testing.T) {
	ours := "/scripts/local-top/zguest_zfcp_ipldev \"$@\"\n[ -e /conf/param.conf ] && . /conf/param.conf\n"
	for in, want := range map[string]string{
		"":                            ours,
		"/scripts/local-top/a \"$@\"": "/scripts/local-top/a \"$@\"\n" + ours,
		origOrder:                     origOrder + ours,
		origOrder + ours:              origOrder + ours,
	} {
		if got := string(appendOrder([]byte(in))); got != want {
			t.Errorf("appendOrder(%q) = %q, want %q", in, got, want)
		}
	}
}
