// Package zkernel is an in-memory model of the parts of an IBM Z Linux kernel
// that a guest agent touches while bringing qeth network devices online:
// the ccw and ccwgroup buses, the qeth driver, cio_ignore and cio_settle,
// /proc/cmdline and /proc/sysinfo, the uevents the kernel emits and the
// processed events an emulated udevd broadcasts.
//
// The model is a state machine driven through a file-operation API
// (ReadFile, WriteFile, ReadDir, Stat, Lstat, Readlink) whose paths are
// relative to an emulated root ("sys/...", "proc/...") and whose text
// formats and errno values follow the kernel (docs/facts/qeth.md,
// "Behaviour of the emulated kernel"; README.md in this directory has the
// behavioural spec of set-online latency, channel paths and port bounds,
// with sources).
// Errors are *fs.PathError values wrapping a syscall.Errno, so
// errors.Is(err, syscall.EINVAL) works.
//
// Network devices are delegated to a NetBackend: the in-memory MemLinks
// (default, no privileges needed) or real interfaces in network namespaces
// (package zkernel/netns). Package zkernel/fusefs serves the file API as a
// real FUSE file system and package zkernel/zkerneltest wires everything
// into a root-only test harness.
//
// Approximations are marked "guess:" or "approximation:" in comments.
package zkernel
