// Package zvm is the z/VM backend of the REST layer (api.Backend): it
// manages guests through SMAPI (package smapi) for the user directory and
// through CP (package zvmcp) for the spool, power state and minidisk
// access, as the z/VM cloud connector does (shared/reference/zvm.md §2).
//
// Deploy copies the image onto the root minidisk by linking it (the
// connector's unpackdiskimage does the same): zvmcp.Disks.OpenDisk links
// the disk in production and opens the simulator's backing file in
// simulation. Files reach the guest as class X reader files: the config
// drive (cfgdrive.iso) at deploy, and the NIC list (nics.json, format
// agent/niclist) at deploy when the guest has NICs and whenever network
// interfaces are created.
//
// State (guests, their os_version and NICs, images) is kept behind the
// Store interface; MemStore is an in-memory implementation until the
// daemon's persistent store is wired in.
package zvm
