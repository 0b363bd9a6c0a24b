package zkernel

import "time"

// OnlineLatency is how long writing 1 to a qeth group's online attribute
// takes before it returns, per device kind: the hardware setup of
// qeth_set_online (the three channels set online, IDX ACTIVATE on the read
// and write channels, the CM/ULP/DM control exchanges, QDIO establish and
// activate, STARTLAN, the IP-assist and adapter-parameter queries, and for
// layer 2 SETVMAC), each a round trip to the adapter or the hypervisor.
// The write sleeps without holding the kernel lock, so groups come online
// in parallel as they do on a real machine (ccwgroup serialises only the
// operations on one group: a second online, offline or ungroup of a group
// that is still coming online fails with EAGAIN).
//
// Zero values are instant. Sources for the defaults are in
// DefaultOnlineLatency; all of them are guesses.
type OnlineLatency struct {
	OSD, OSX, OSM time.Duration // OSA-Express adapters in LPARs
	IQD           time.Duration // HiperSockets (firmware, no adapter card)
	VNIC          time.Duration // z/VM virtual NICs (QDIO or HiperSockets)
}

// DefaultOnlineLatency is a realistic set-online time per kind.
//
// guess: no source states a typical duration. What the sources do say:
// the online path makes about a dozen sequential round trips to the
// adapter, each bounded by QETH_TIMEOUT (10 s) or QETH_IPA_TIMEOUT (45 s)
// in drivers/s390/net/qeth_core_mpc.h, with up to 3 retries of the IDX
// activation (qeth_hardsetup_card in qeth_core_main.c); the only
// timestamped log found (an OSA emulated by Hercules, issue
// SDL-Hercules-390/hyperion#511) shows about 100 ms from "register layer
// 2 discipline" to "MAC address ... successfully registered"; operators
// report "hundreds of milliseconds" per OSA device on real hardware. So:
// 300 ms for OSA (OSD/OSX/OSM), 100 ms for HiperSockets, whose queues are
// firmware only, and 50 ms for z/VM VNICs, which CP simulates in memory.
var DefaultOnlineLatency = OnlineLatency{
	OSD: 300 * time.Millisecond, OSX: 300 * time.Millisecond, OSM: 300 * time.Millisecond,
	IQD: 100 * time.Millisecond, VNIC: 50 * time.Millisecond,
}

// of returns the latency of the device's kind.
func (l *OnlineLatency) of(d Device) time.Duration {
	if l == nil {
		return 0
	}
	if d.VNIC {
		return l.VNIC
	}
	switch d.Kind {
	case KindOSD:
		return l.OSD
	case KindOSX:
		return l.OSX
	case KindOSM:
		return l.OSM
	case KindIQD:
		return l.IQD
	}
	return 0
}

// Max is the longest latency of any kind.
func (l OnlineLatency) Max() time.Duration {
	return max(l.OSD, l.OSX, l.OSM, l.IQD, l.VNIC)
}
