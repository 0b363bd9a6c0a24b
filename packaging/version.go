package packaging

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// FallbackVersion is the version when there is no git (a source tarball).
const FallbackVersion = "0.0.0-unknown"

// GitVersion returns the version of the tree at dir the way the Makefile
// computes it: the tag when the commit has one, else `git describe --tags
// --always --dirty` (tag-N-gHASH, or the abbreviated hash), else
// FallbackVersion.
func GitVersion(dir string) string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = dir
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return FallbackVersion
}

// PackageVersion turns a version from git into one dpkg and rpm accept and
// order rightly: a leading v goes ("v1.2.0" -> "1.2.0"); commits after a
// tag sort after it ("v1.2.0-3-gabc1234" -> "1.2.0+3.gabc1234"); a version
// that is not a release (a bare hash, "unknown") sorts before every
// release ("abc1234" -> "0.0.0~git.abc1234"); "-dirty" becomes ".dirty".
// Characters neither accepts become dots.
func PackageVersion(git string) string {
	v := strings.TrimSpace(git)
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		v = v[1:]
	}
	dirty := strings.HasSuffix(v, "-dirty")
	v = strings.TrimSuffix(v, "-dirty")
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0.0.0~git." + v
	} else if i := strings.Index(v, "-"); i >= 0 {
		v = v[:i] + "+" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	if dirty {
		v += ".dirty"
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '+', r == '~':
			b.WriteRune(r)
		default:
			b.WriteByte('.')
		}
	}
	return strings.TrimRight(b.String(), ".")
}

// mtimeFromEnv is SOURCE_DATE_EPOCH, or now.
func mtimeFromEnv() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}
