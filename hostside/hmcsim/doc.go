// Package hmcsim simulates the subset of the IBM HMC Web Services API
// that a DPM host backend uses (reference: docs/facts/dpm.md
// sections 3 and 6): HTTPS with a self-signed certificate generated at
// start, sessions (X-API-Session, idle expiry, 403 reasons 4 and 5),
// CPCs, adapters and ports, virtual switches, storage groups and
// volumes, partitions with their state machine, NICs, HBAs (z13 class),
// storage-group attachment (dpm-storage-management), start/stop as
// asynchronous jobs with "deferred status", the standard error body,
// fault injection and request counters.
//
// In-process: Start(ctx, Options) returns a *Sim with URL, CACertPEM,
// the fault API (FailNextStart, Busy, ExpireSessions, SetLatency,
// GuestShutdown, SetPartitionStatus) and Counts. As a process: Command
// (`zguest-sim dpm`), with the same faults under /sim/.
//
// Reason codes that the reference does not give are marked "guess:" in
// the source.
package hmcsim
