// Package zvmsim simulates the parts of a z/VM system the host daemon
// talks to: a SMAPI server speaking the real framing over TCP (with a
// credential check), a user directory of records (72-character limit),
// disk pools with a capacity, minidisks backed by sparse files, NICDEFs,
// logged-on state, and CP (commands and spool) through the shared
// internal/zvm/spool System that the agent's emulated kernel reads from.
//
// It is used in-process by tests (New, then Serve on a listener, and CP
// and Disks as the daemon's zvmcp implementations) and as a process
// (`zguest-hostd sim zvm`), where the daemon reaches CP over the
// simulation-only protocol of package zvmcp (ServeCP).
//
// The host queries (hostinfo.go: System_Processor_Query,
// System_Information_Query, System_Performance_Information_Query,
// Image_Volume_Space_Query_DM), CP QUERY USERID and the connector
// guest's /proc/sysinfo (WriteGuestRoot) describe the system of
// Options.Host.
//
// Faults can be injected: a connection dropped before the request is
// read, "image locked" (400/12) for the next N calls on a target, any
// rc/rs for a function, and latency.
package zvmsim
