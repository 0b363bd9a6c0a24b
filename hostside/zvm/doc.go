// Package zvm is the z/VM backend of the REST layer (api.Backend): it
// manages guests through SMAPI (package smapi) for the user directory and
// through CP (package zvmcp) for the spool, power state and minidisk
// access, as the z/VM cloud connector does (docs/facts/zvm-connector.md §2).
//
// Deploy copies the image onto the root minidisk by linking it (the
// connector's unpackdiskimage does the same): zvmcp.Disks.OpenDisk links
// the disk in production and opens the simulator's backing file in
// simulation. Files reach the guest as class X reader files: the config
// drive (cfgdrive.iso) at deploy, and the NIC list (nics.json, format
// agent/niclist) at deploy when the guest has NICs and whenever network
// interfaces are created.
//
// GET /host (hostinfo.go) asks CP, the connector guest's /proc/sysinfo
// and four SMAPI queries, as getHost.py does. Capture (capture.go)
// writes the root minidisk as an xCAT image under staging/, moves it to
// netboot/ and records it; it is not journaled: a crash in the middle
// leaves at most a staging directory and a stopped guest, never a record
// without its file.
//
// Files nova names on its own host (the config drive of deploy's
// transportfiles, image_import's file:// URL) are copied with scp from
// the remotehost / remote_host it sends (user@host; -B, the configured
// remotehost_sshd_port), as the original does; without one they are read
// locally. pause and unpause are SMAPI Image_Pause; a paused guest stays
// logged on ("on").
//
// State (guests, their os_version and NICs, images) and a journal of
// operations in progress are kept behind the Store interface: BoltStore
// (over hostside/store, the daemon's crash-safe file) or MemStore (in
// memory, for tests).
//
// # Crash safety
//
// Create, deploy, delete and every punch record their steps in the
// journal before going on. Recover, which the daemon's factory calls
// before listening, settles each pending operation, logs what it did and
// ends it; what it cannot settle stays pending and fails the start. The
// invariants: no directory entry without a record, no record without a
// directory entry, no file left in the connector's own reader.
//
//   - create, begun (Image_Create_DM may have run): roll back; the entry
//     is deleted only if it is the one planned (a guest defined before is
//     left alone).
//   - create, entry made or some disks made: roll back (Image_Delete_DM
//     frees the disks; no record was written).
//   - create, every disk made, or record written: finish (write the
//     record if the entry is still there).
//   - deploy or punch, any step: purge from the connector's reader each
//     punched file not transferred, by its spool id, or by name and type
//     when the crash came before the id was journaled. A deploy that had
//     written its record is finished; any other is rolled back to
//     "created" (the guest can be deployed again; a partly written root
//     disk is overwritten then; files already transferred stay in the
//     guest's reader).
//   - delete, any step: finish (both halves are idempotent and the user
//     asked for it).
package zvm
