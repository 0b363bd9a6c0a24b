package zkernel

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// step is one file operation of a scenario: a write (data != "" or
// write set) checked against errno, or a read checked against want.
type step struct {
	op    string // "w" write, "r" read, "stat" exists, "nostat" absent
	path  string
	data  string
	errno syscall.Errno
}

func runSteps(t *testing.T, k *Kernel, steps []step) {
	t.Helper()
	for i, s := range steps {
		switch s.op {
		case "w":
			err := k.WriteFile(s.path, []byte(s.data))
			wantErrno(t, stepName(i, s), err, s.errno)
		case "r":
			b, err := k.ReadFile(s.path)
			if s.errno != 0 {
				wantErrno(t, stepName(i, s), err, s.errno)
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", stepName(i, s), err)
			} else if string(b) != s.data {
				t.Errorf("%s: read %q, want %q", stepName(i, s), b, s.data)
			}
		case "stat":
			if _, err := k.Stat(s.path); err != nil {
				t.Errorf("%s: %v", stepName(i, s), err)
			}
		case "nostat":
			_, err := k.Stat(s.path)
			wantErrno(t, stepName(i, s), err, syscall.ENOENT)
		default:
			t.Fatalf("bad op %q", s.op)
		}
	}
}

func stepName(i int, s step) string {
	return strings.Join([]string{"step", strconv.Itoa(i), s.op, s.path, strconv.Quote(s.data)}, " ")
}

const (
	g500 = "sys/bus/ccwgroup/devices/0.0.f500/"
	g700 = "sys/bus/ccwgroup/devices/0.0.7000/"
)

func TestQethTransitions(t *testing.T) {
	free := []step{
		{"w", "proc/cio_ignore", "free 0.0.f500-0.0.f502", 0},
		{"w", "proc/cio_settle", "1", 0},
	}
	group := append(append([]step{}, free...), step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502\n", 0})
	scenarios := []struct {
		name  string
		steps []step
	}{
		{"group write errors", append(append([]step{},
			// members still on cio_ignore
			step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502", syscall.EINVAL}),
			append(free,
				step{"r", groupFile, "", syscall.EACCES},
				step{"w", groupFile, "0.0.f500,0.0.f501", syscall.EINVAL},
				step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502,0.0.f503", syscall.EINVAL},
				step{"w", groupFile, "f500,f501,f502", syscall.EINVAL},
				step{"w", groupFile, "0.0.f500,0.0.f500,0.0.f502", syscall.EINVAL},
				// nonexistent member
				step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f5ff", syscall.EINVAL},
				// mixed kinds (OSD and IQD)
				step{"w", groupFile, "0.0.f500,0.0.f501,0.0.7002", syscall.EINVAL},
				// member without qeth (the DASD)
				step{"w", groupFile, "0.0.0200,0.0.f501,0.0.f502", syscall.EINVAL},
				step{"nostat", "sys/devices/qeth/0.0.f500", "", 0},
				// short tokens in upper case are fine for the kernel
				step{"w", groupFile, "0.0.F500,0.0.F501,0.0.F502", 0},
				step{"stat", "sys/devices/qeth/0.0.f500", "", 0},
				// already grouped
				step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502", syscall.EINVAL},
				step{"w", groupFile, "0.0.7000,0.0.7001,0.0.f502", syscall.EINVAL},
			)...)},
		{"fresh group attributes", append(append([]step{}, group...),
			step{"r", g500 + "online", "0\n", 0},
			step{"r", g500 + "layer2", "-1\n", 0},
			step{"r", g500 + "portno", "0\n", 0},
			step{"r", g500 + "buffer_count", "64\n", 0},
			step{"r", g500 + "card_type", "OSD_Express\n", 0},
			step{"r", g500 + "state", "DOWN\n", 0},
			step{"r", g500 + "if_name", "(unnamed net_device)\n", 0},
			step{"r", g500 + "chpid", "F5\n", 0},
			step{"r", g500 + "ungroup", "", syscall.EACCES},
			step{"w", g500 + "card_type", "x", syscall.EACCES},
			step{"w", g500 + "state", "x", syscall.EACCES},
			step{"nostat", g500 + "net", "", 0},
			step{"nostat", g500 + "bridge_role", "", 0},
			step{"r", "sys/bus/ccw/devices/0.0.f500/online", "0\n", 0},
		)},
		{"layer2 writes", append(append([]step{}, group...),
			step{"w", g500 + "layer2", "2", syscall.EINVAL},
			step{"w", g500 + "layer2", "x", syscall.EINVAL},
			step{"w", g500 + "layer2", "100000000", syscall.ERANGE},
			step{"w", g500 + "layer2", "-1", syscall.EINVAL},
			step{"w", g500 + "layer2", "1\n", 0},
			step{"r", g500 + "layer2", "1\n", 0},
			step{"stat", g500 + "bridge_role", "", 0},
			step{"w", g500 + "layer2", "1", 0}, // same value: no-op
			step{"w", g500 + "layer2", "0", 0},
			step{"stat", g500 + "route4", "", 0},
			step{"nostat", g500 + "bridge_role", "", 0},
			step{"w", g500 + "layer2", "0x1", 0},
			step{"w", g500 + "online", "1", 0},
			step{"w", g500 + "layer2", "0", syscall.EPERM},
			step{"w", g500 + "layer2", "1", syscall.EPERM},
			step{"w", g500 + "layer2", "2", syscall.EINVAL},
		)},
		{"portno and buffer_count", append(append([]step{}, group...),
			step{"w", g500 + "portno", "1", 0},
			step{"r", g500 + "portno", "1\n", 0},
			step{"w", g500 + "portno", "2", syscall.EINVAL}, // adapter has 2 ports
			step{"w", g500 + "portno", "10", syscall.EINVAL},
			step{"w", g500 + "portno", "z", syscall.EINVAL},
			step{"w", g500 + "buffer_count", "4", 0},
			step{"r", g500 + "buffer_count", "8\n", 0},
			step{"w", g500 + "buffer_count", "500", 0},
			step{"r", g500 + "buffer_count", "128\n", 0},
			step{"w", g500 + "buffer_count", "0x10", syscall.EINVAL},
			step{"w", g500 + "online", "1", 0},
			step{"w", g500 + "portno", "0", syscall.EPERM},
			step{"w", g500 + "portno", "10", syscall.EINVAL},
			step{"w", g500 + "buffer_count", "64", syscall.EPERM},
			step{"r", g500 + "net/eth0/dev_port", "1\n", 0},
		)},
		{"online and offline", append(append([]step{}, group...),
			step{"w", g500 + "online", "0", syscall.EINVAL}, // already offline
			step{"w", g500 + "online", "2", syscall.EINVAL},
			step{"w", g500 + "online", "on", syscall.EINVAL},
			step{"w", g500 + "online", "", 0}, // empty write: nothing happens
			step{"r", g500 + "online", "0\n", 0},
			step{"w", g500 + "online", "1\n", 0},
			step{"r", g500 + "online", "1\n", 0},
			step{"r", g500 + "layer2", "1\n", 0}, // OSD default
			step{"r", g500 + "state", "SOFTSETUP\n", 0},
			step{"r", g500 + "card_type", "OSD_10GIG\n", 0},
			step{"r", g500 + "if_name", "eth0\n", 0},
			step{"r", g500 + "net/eth0/address", "02:00:00:00:f5:00\n", 0},
			step{"r", g500 + "net/eth0/ifindex", "2\n", 0},
			step{"r", "sys/class/net/eth0/address", "02:00:00:00:f5:00\n", 0},
			step{"r", "sys/bus/ccw/devices/0.0.f502/online", "1\n", 0},
			step{"w", g500 + "online", "1", syscall.EINVAL}, // already online
			step{"w", g500 + "online", "0x1", syscall.EINVAL},
			step{"w", g500 + "ungroup", "1", syscall.EINVAL}, // online
			step{"w", g500 + "recover", "1", 0},
			step{"w", g500 + "online", "0", 0},
			step{"w", g500 + "recover", "1", syscall.EPERM},
			step{"r", g500 + "state", "DOWN\n", 0},
			step{"r", g500 + "if_name", "eth0\n", 0}, // netdev kept
			step{"r", g500 + "net/eth0/ifindex", "2\n", 0},
			step{"r", "sys/bus/ccw/devices/0.0.f502/online", "0\n", 0},
			step{"w", g500 + "online", "01", 0}, // octal 1
			step{"r", g500 + "net/eth0/ifindex", "2\n", 0},
			step{"w", g500 + "online", "0", 0},
			step{"w", g500 + "ungroup", "1", 0},
			step{"nostat", "sys/devices/qeth/0.0.f500", "", 0},
			step{"nostat", "sys/bus/ccwgroup/devices/0.0.f500", "", 0},
			step{"nostat", "sys/class/net/eth0", "", 0},
			step{"nostat", "sys/bus/ccw/devices/0.0.f500/group_device", "", 0},
			// regroup: a fresh card with a fresh netdev
			step{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502", 0},
			step{"r", g500 + "layer2", "-1\n", 0},
			step{"w", g500 + "online", "1", 0},
			step{"r", g500 + "if_name", "eth0\n", 0},
			step{"r", g500 + "net/eth0/ifindex", "3\n", 0},
		)},
		{"layer switch replaces the netdev", append(append([]step{}, group...),
			step{"w", g500 + "layer2", "1", 0},
			step{"w", g500 + "online", "1", 0},
			step{"w", g500 + "online", "0", 0},
			step{"r", g500 + "if_name", "eth0\n", 0},
			step{"w", g500 + "layer2", "0", 0},
			step{"r", g500 + "if_name", "(unnamed net_device)\n", 0},
			step{"nostat", g500 + "net", "", 0},
			step{"w", g500 + "online", "1", 0},
			step{"r", g500 + "net/eth0/ifindex", "3\n", 0},
		)},
		{"IQD defaults to layer 3", []step{
			{"w", g700[:len(g700)-1] + "", "", syscall.ENOENT},
			{"w", groupFile, "0.0.7000,0.0.7001,0.0.7002", 0},
			{"r", g700 + "buffer_count", "128\n", 0},
			{"r", g700 + "card_type", "HiperSockets\n", 0},
			{"w", g700 + "online", "1", 0},
			{"r", g700 + "layer2", "0\n", 0},
			{"r", g700 + "if_name", "hsi0\n", 0},
			{"stat", g700 + "route4", "", 0},
			{"w", g700 + "isolation", "drop", syscall.EOPNOTSUPP},
			{"w", g700 + "priority_queueing", "prio_queueing_tos", syscall.EOPNOTSUPP},
		}},
		{"IQD layer 2 when written first", []step{
			{"w", groupFile, "0.0.7000,0.0.7001,0.0.7002", 0},
			{"w", g700 + "layer2", "1", 0},
			{"w", g700 + "online", "1", 0},
			{"r", g700 + "layer2", "1\n", 0},
			{"r", g700 + "if_name", "hsi0\n", 0},
		}},
		{"member online attribute", append(append([]step{}, group...),
			step{"w", "sys/bus/ccw/devices/0.0.f500/online", "1", syscall.EINVAL},
			step{"w", "sys/bus/ccw/devices/0.0.f500/online", "0", syscall.EINVAL},
			step{"w", "sys/bus/ccw/devices/0.0.f500/online", "force", syscall.EINVAL},
			step{"w", "sys/bus/ccw/devices/0.0.0200/online", "1", syscall.EINVAL},
			step{"w", "sys/bus/ccw/devices/0.0.f500/cutype", "1", syscall.EACCES},
		)},
		{"reader online", []step{
			{"nostat", "sys/bus/ccw/devices/0.0.000c", "", 0},
			{"w", "proc/cio_ignore", "free 000c", 0},
			{"r", "sys/bus/ccw/devices/0.0.000c/online", "0\n", 0},
			{"r", "sys/bus/ccw/devices/0.0.000c/cutype", "2540/00\n", 0},
			{"r", "sys/bus/ccw/devices/0.0.000c/devtype", "n/a\n", 0},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "0", syscall.EINVAL},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "2", syscall.EINVAL},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "1\n", 0},
			{"r", "sys/bus/ccw/devices/0.0.000c/online", "1\n", 0},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "1", syscall.EINVAL},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "0", 0},
			{"w", "sys/bus/ccw/devices/0.0.000c/online", "force", 0},
			{"r", "sys/bus/ccw/devices/0.0.000c/online", "1\n", 0},
		}},
		{"purge", []step{
			{"w", "proc/cio_ignore", "free 0.0.f500-0.0.f502", 0},
			{"w", groupFile, "0.0.f500,0.0.f501,0.0.f502", 0},
			{"w", "proc/cio_ignore", "add 0.0.f500-0.0.f502", 0},
			{"stat", "sys/bus/ccw/devices/0.0.f500", "", 0},
			{"w", "proc/cio_ignore", "purge", 0},
			{"nostat", "sys/bus/ccw/devices/0.0.f500", "", 0},
			{"nostat", "sys/devices/qeth/0.0.f500", "", 0},
			{"w", "proc/cio_ignore", "free 0.0.f500-0.0.f502", 0},
			{"stat", "sys/bus/ccw/devices/0.0.f500/driver", "", 0},
		}},
		{"proc files", []step{
			{"r", "proc/cmdline", "root=/dev/dasda1 cio_ignore=all,!condev\n", 0},
			{"w", "proc/cmdline", "x", syscall.EACCES},
			{"r", "proc/cio_settle", "", syscall.EACCES},
			{"w", "proc/sysinfo", "x", syscall.EACCES},
			{"r", "proc/nonexistent", "", syscall.ENOENT},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			k := newKernel(t, baseConfig(t))
			runSteps(t, k, sc.steps)
		})
	}
}
