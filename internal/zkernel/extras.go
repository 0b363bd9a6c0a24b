package zkernel

import (
	"strings"
	"syscall"
)

// buildGroupExtras adds the qeth attributes the agent is unlikely to need
// but may read or write: the generic ones and those of the current layer
// (qeth_core_sys.c, qeth_l2_sys.c, qeth_l3_sys.c).
//
// guess: these are modelled loosely. Values are stored verbatim after a
// check of the obvious errno cases; defaults are plausible, not measured.
func (k *Kernel) buildGroupExtras(n *node, g *group) {
	d0 := g.dev0()
	n.set("inbuf_size", constAttr("64k"))
	n.set("portname", attrRW(func() string { return "no portname required" },
		func(string) syscall.Errno { return 0 }))
	n.set("switch_attrs", attrRO(func() string {
		if !g.online {
			return "n/a"
		}
		return "unknown" // guess
	}))
	n.set("recover", attrWO(func([]byte) syscall.Errno {
		if !g.online {
			return syscall.EPERM
		}
		return 0
	}))
	n.set("priority_queueing", k.storedAttr(g, "priority_queueing", "always queue 2", func(v string) syscall.Errno {
		if d0.spec.Kind == KindIQD || d0.spec.VNIC {
			return syscall.EOPNOTSUPP
		}
		if g.online {
			return syscall.EPERM
		}
		return oneOf(v, "prio_queueing_skb", "prio_queueing_prec", "prio_queueing_tos",
			"prio_queueing_vlan", "no_prio_queueing", "no_prio_queueing:0", "no_prio_queueing:1",
			"no_prio_queueing:2", "no_prio_queueing:3")
	}))
	n.set("isolation", k.storedAttr(g, "isolation", "none", func(v string) syscall.Errno {
		if d0.spec.Kind != KindOSD && d0.spec.Kind != KindOSX {
			return syscall.EOPNOTSUPP
		}
		return oneOf(v, "none", "drop", "forward")
	}))
	n.set("hw_trap", k.storedAttr(g, "hw_trap", "disarmed", func(v string) syscall.Errno {
		return oneOf(v, "arm", "disarm", "trap")
	}))
	n.set("performance_stats", k.storedAttr(g, "performance_stats", "0", func(v string) syscall.Errno {
		return oneOf(v, "0", "1")
	}))
	blkt := n.mkdir("blkt")
	for name, def := range map[string]string{"total": "250", "inter": "5", "inter_jumbo": "15"} {
		blkt.set(name, k.storedAttr(g, "blkt/"+name, def, func(v string) syscall.Errno {
			if g.online {
				return syscall.EPERM
			}
			if _, e := kstrtouint(v, 10); e != 0 {
				return e
			}
			return 0
		}))
	}
	any := func(string) syscall.Errno { return 0 }
	switch g.layer {
	case 1:
		n.set("bridge_role", k.storedAttr(g, "bridge_role", "none", any))
		n.set("bridge_state", constAttr("inactive"))
		n.set("bridge_hostnotify", k.storedAttr(g, "bridge_hostnotify", "0", any))
		n.set("bridge_reflect_promisc", k.storedAttr(g, "bridge_reflect_promisc", "none", any))
	case 0:
		n.set("route4", k.storedAttr(g, "route4", "no", any))
		n.set("route6", k.storedAttr(g, "route6", "no", any))
		n.set("sniffer", k.storedAttr(g, "sniffer", "0", any))
		n.set("hsuid", k.storedAttr(g, "hsuid", "", any))
		for _, dir := range []string{"ipa_takeover", "vipa", "rxip"} {
			sub := n.mkdir(dir)
			for _, f := range []string{"add4", "add6", "del4", "del6"} {
				if strings.HasPrefix(f, "del") {
					sub.set(f, attrWO(func([]byte) syscall.Errno { return 0 }))
					continue
				}
				sub.set(f, k.storedAttr(g, dir+"/"+f, "", any))
			}
		}
	}
}

// storedAttr is a 0644 attribute whose accepted value (trailing newline
// removed) is stored on the group and read back.
func (k *Kernel) storedAttr(g *group, key, def string, check func(v string) syscall.Errno) *node {
	return attrRW(func() string {
		if v, ok := g.attrs[key]; ok {
			return v
		}
		return def
	}, func(s string) syscall.Errno {
		v := strings.TrimSuffix(s, "\n")
		if e := check(v); e != 0 {
			return e
		}
		g.attrs[key] = v
		return 0
	})
}

func oneOf(v string, allowed ...string) syscall.Errno {
	for _, a := range allowed {
		if v == a {
			return 0
		}
	}
	return syscall.EINVAL
}
