package imagebuild

import (
	"bytes"
	"fmt"

	"github.com/zguest/zguest/builder/debpkg"
	"github.com/zguest/zguest/internal/version"
	"github.com/zguest/zguest/units"
)

// VersionFile is where an image records the version of the agent
// zguest-image installed.
const VersionFile = "usr/lib/zguest/VERSION"

// agentBinary returns the agent executable and its version from what the
// spec's agent: names: the s390x binary itself, or the zguest-agent .deb
// (make packages), whose data holds the binary at units.AgentPath. The
// version is the one linked into the binary (read from its Go build
// information, never by running it: it is an s390x program), else the
// .deb's Version field, else version.Unknown.
func agentBinary(b []byte) (bin []byte, ver string, err error) {
	bin, ver = b, version.Unknown
	if debpkg.IsDeb(b) {
		p, err := debpkg.Open(b)
		if err != nil {
			return nil, "", err
		}
		ctl, err := p.Control()
		if err != nil {
			return nil, "", err
		}
		if ctl["Package"] != "zguest-agent" || ctl["Architecture"] != "s390x" {
			return nil, "", fmt.Errorf("a .deb of %s for %s: want zguest-agent for s390x (make packages: dist/zguest-agent_*_s390x.deb)",
				ctl["Package"], ctl["Architecture"])
		}
		if bin, err = p.File(units.AgentPath); err != nil {
			return nil, "", err
		}
		if ctl["Version"] != "" {
			ver = ctl["Version"]
		}
	}
	// A binary that is not a Go program keeps what the .deb said;
	// checkS390xELF says whether it is an s390x executable at all.
	if v, err := version.FromBinary(bytes.NewReader(bin)); err == nil {
		ver = v
	}
	return bin, ver, nil
}
