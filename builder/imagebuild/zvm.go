package imagebuild

import (
	"strings"

	"github.com/zguest/zguest/builder/imagespec"
)

// sendersFile is where zguest-agent reads the authorized z/VM senders
// (agent/zvm.SendersFile).
const sendersFile = "etc/zguest/authorized-senders"

// zvmSenders writes the authorized senders of a z/VM image, if the spec
// lists any.
func (c *customizer) zvmSenders(z imagespec.ZVM) error {
	if len(z.AuthorizedSenders) == 0 {
		return nil
	}
	body := "# z/VM userids whose reader files zguest-agent uses (zguest-image spec zvm.authorized_senders)\n" +
		strings.Join(z.AuthorizedSenders, "\n") + "\n"
	return c.writeFile(sendersFile, []byte(body), 0o644, "authorized z/VM senders")
}
