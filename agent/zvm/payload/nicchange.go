package payload

import (
	"fmt"
	"strings"

	"github.com/zguest/zguest/agent/nic"
	"github.com/zguest/zguest/agent/qeth"
	"github.com/zguest/zguest/agent/sysfs"
)

// ChangesToUpNICs lists, as "busid (ifname): what before -> after", what
// nics would change on NICs whose qeth group is online now (read from
// sysfs): the MAC, the port, the layer or the interface name. NICs that
// are not online yet are additions, not changes.
func ChangesToUpNICs(f sysfs.FS, nics []nic.NIC) []string {
	var out []string
	for _, n := range nics {
		g, err := qeth.ObserveGroup(f, n.Read, nil)
		if err != nil || g == nil || !g.Online {
			continue
		}
		mac := ""
		if g.IfName != "" {
			mac, _ = sysfs.ReadAttr(f, "sys/class/net/"+g.IfName+"/address")
		}
		var what []string
		if n.MAC != nil && !strings.EqualFold(n.MAC.String(), mac) {
			what = append(what, fmt.Sprintf("MAC %s -> %s", mac, n.MAC))
		}
		if n.Port >= 0 && n.Port != g.PortNo {
			what = append(what, fmt.Sprintf("port %d -> %d", g.PortNo, n.Port))
		}
		if n.Layer2 != nic.LayerDefault && g.Layer2 >= 0 && n.Layer2 != g.Layer2 {
			what = append(what, fmt.Sprintf("layer %d -> %d", 3-g.Layer2, 3-n.Layer2))
		}
		if n.IfName != "" && n.IfName != g.IfName {
			what = append(what, fmt.Sprintf("name %s -> %s", g.IfName, n.IfName))
		}
		if len(what) > 0 {
			out = append(out, fmt.Sprintf("%s (%s): %s", n.Read, g.IfName, strings.Join(what, ", ")))
		}
	}
	return out
}
