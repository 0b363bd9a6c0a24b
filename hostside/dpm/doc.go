// Package dpm is the DPM backend of the REST layer (api.Backend): each
// guest is a partition of one CPC subset, managed through the HMC Web
// Services API (package hmc) the way nova-dpm does
// (docs/facts/dpm.md §2), without its known defects.
//
// # Names
//
// The REST API's userid (1–8 alphanumerics, upper case) is the instance
// id. The partition is named "OpenStack-<host>-<USERID>", where host is
// the configured host identifier (1–45 of [A-Za-z0-9_-], so the name
// stays within the HMC's 64 characters: 10 + 45 + 1 + 8). Two daemons
// with different host identifiers never clash, and since a userid holds
// no "-", the name of host "a" never matches host "a-b"'s pattern. Host
// identifiers have no regular expression metacharacters, so a name is
// also the HMC's name filter for itself. The partition description is
// "OpenStack CPCSubset=<host>"; NICs are named "OpenStack_NIC_<n>" with
// the description "OpenStack mac=<mac>, CPCSubset=<host>".
//
// # Network
//
// CreateNetworkInterface creates one NIC per guest network on the
// virtual switch mapped from the default physical network, CreateNIC one
// NIC there too; CoupleNIC names a physical network in its vswitch field
// and must match the NIC's switch (a DPM NIC is bound to its switch when
// it is created). The NIC's device number is read back, and the token
// "<devno>,<port>,<mac>;" (devno as the HMC gives it, port from the
// virtual switch, MAC without colons) is appended to the partition's
// boot-os-specific-parameters, separated by a space with a leading one as
// nova-dpm writes them. The combined length is checked against 256
// before anything is created, so a 13th NIC is refused with nothing left
// behind. With HMC API 2.20 and later the MAC is also set as the NIC's
// mac-address when the NIC is created. A failure half way deletes the
// NICs the call created.
//
// # Boot
//
// DPM guests boot from an FCP volume; Deploy's image names it:
// "storage-volume:<storage volume URI>" (z14 and later: boot-device
// storage-volume) or "fcp:<target WWPN>:<LUN>" (z13 class: boot-device
// storage-adapter through the HBA created at CreateGuest on the first
// storage mapping). For a storage volume, Deploy first attaches the
// volume's storage group to the partition (attach-storage-group; one
// already attached is fine) and detaches it again if the boot properties
// cannot be set; delete detaches the partition's storage groups that no
// other partition of the CPC has attached (one read of the partition
// list with additional-properties=storage-group-uris), then deletes the
// partition. Deploy sets the boot properties in one update; start
// starts the partition through the asynchronous job and waits for the
// job and then for status active with bounded timeouts.
//
// # Power
//
// "on" is active, degraded, reservation-error, starting or stopping;
// everything else (stopped, paused, terminated, status-check,
// communications-not-active) is "off". Start stops a partition left
// paused (a guest shutdown) before starting it; a start whose job fails
// leaves the partition stopped. Stop of a stopped partition succeeds.
// Reboot and reset are stop then start; softstop is stop (the HMC has
// no in-band shutdown); pause and unpause are not supported. Delete stops
// the partition first and then deletes it with its NICs and HBAs; a
// partition already gone is not an error.
//
// # Limits
//
// Processors are shared: one guest may have up to the subset's maximum.
// Memory is dedicated: the sum of the guests' initial memory may not
// exceed the subset's maximum. A create beyond them is refused with
// overallRC 409, modID 10, rc 409, rs 1 (processors) or rs 2 (memory).
//
// # Errors
//
// HMC errors become *api.Error with rc = the HMC's HTTP status and rs =
// its reason code, the HMC's message in msg, and overallRC: 404 for
// 404, 409 for 409 and for 400 reason 8 (name not unique: the guest
// exists), 503 when the HMC is unreachable (rc 503, rs 0), 300 otherwise.
// modID is 10 (guest) or 20 (network). Failed jobs carry the job's status
// and reason code.
//
// # Restart
//
// The HMC holds all state. New lists the CPC's partitions, adopts those
// whose names say they are this host's, and cleans them up: a NIC whose
// device number is not in the boot-os-specific-parameters string was left
// by a spawn interrupted between NIC creation and the string's update, and
// is deleted (its interface call never succeeded).
package dpm
