package units

import "embed"

// Guest holds the units zguest-image installs into guest images (the host
// daemon's unit is not one of them).
//
//go:embed zguest-activate.service zguest-setmac@.service zguest-reader.service
var Guest embed.FS

// AgentPath is where the units expect the agent binary in a guest.
const AgentPath = "/usr/lib/zguest/zguest-agent"

// Host holds the host daemon's unit, which its package installs.
//
//go:embed zguest-hostd.service
var Host embed.FS
