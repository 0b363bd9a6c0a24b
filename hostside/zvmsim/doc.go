// Package zvmsim simulates the parts of a z/VM system the host daemon
// talks to: a SMAPI server speaking the real framing over TCP (with a
// credential check), a user directory of records (72-character limit),
// disk pools with a capacity, minidisks backed by sparse files, NICDEFs,
// logged-on state, and CP (commands and spool) through the shared
// internal/zvm/spool System that the agent's emulated kernel reads from.
//
// Replies follow the layouts zthin (the z/VM cloud connector's C client)
// parses: Image_Query_DM answers the entry as DirMaint does, 80-byte card
// images with sequence numbers in columns 73-80 and a *DVHOPT control
// record; Image_Activate and Image_Deactivate answer a single image with
// rc and rs only (as a recorded z/VM reply shows) and a name list
// (Name_List_Add/Remove/Query/Destroy) with the (de)activated and
// not-(de)activated counts and the failing array, rc 200 rs 28/32 when an
// image failed; Query_API_Functional_Level answers rc 0 with the level
// (Options.APILevel, default 720: z/VM 7.2) in the reason code;
// Image_Status_Query lists the active images of a userid, a name list or
// "*"; Image_Active_Configuration_Query describes a logged-on image's
// storage, SHARE, CPUs and devices; Image_Console_Get closes the console
// to the caller's reader (class T, device type CON) and answers no data.
// A function it does not know answers 900/12 ("specified function does
// not exist").
//
// It is used in-process by tests (New, then Serve on a listener, and CP
// and Disks as the daemon's zvmcp implementations) and as a process
// (`zguest-sim zvm`), where the daemon reaches CP over the
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
