package packaging

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FallbackVersion is the version when there is no git (a source tarball).
const FallbackVersion = "0.0.0-unknown"

// GitVersion returns the version of the tree at dir the way the Makefile
// computes it: the release tag (v1.2.0) when the commit has one, else `git
// describe --tags --always --dirty` (v1.2.0-3-gHASH, or the abbreviated
// hash when there is no release tag), else FallbackVersion. Release tags
// are v<digit>...; other tags are not used.
func GitVersion(dir string) string {
	cmd := exec.Command("git", "describe", "--tags", "--match", "v[0-9]*", "--always", "--dirty")
	cmd.Dir = dir
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return FallbackVersion
}

// bareHash is what git describe --always prints without a release tag.
var bareHash = regexp.MustCompile(`^[0-9a-f]{4,64}$`)

// PackageVersion turns a version from git into one dpkg and rpm accept and
// order rightly: a leading v goes ("v1.2.0" -> "1.2.0"); commits after a
// tag sort after it ("v1.2.0-3-gabc1234" -> "1.2.0+3.gabc1234"); a version
// that is not a release (a bare hash, even one of digits only, or
// anything not starting with a digit) sorts before every release
// ("83d2cb5" -> "0.0.0~git.83d2cb5"); "-dirty" becomes ".dirty".
// Characters neither accepts become dots.
func PackageVersion(git string) string {
	v := strings.TrimSpace(git)
	dirty := strings.HasSuffix(v, "-dirty")
	v = strings.TrimSuffix(v, "-dirty")
	switch {
	case len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9':
		v = release(v[1:])
	case v != "" && v[0] >= '0' && v[0] <= '9' && !bareHash.MatchString(v):
		v = release(v)
	default:
		v = "0.0.0~git." + v
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

// release turns "1.2.0-3-gabc1234" into "1.2.0+3.gabc1234".
func release(v string) string {
	if i := strings.Index(v, "-"); i >= 0 {
		return v[:i] + "+" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	return v
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
