// Package spool models the z/VM CP spool: a directory of users, per-user
// reader, punch and printer queues of spool files, system-wide spool ids
// (1–9999), and the spooling state of each user's virtual reader (000C) and
// punch (000D).
//
// The System type is safe for concurrent use. It is driven both by the CP
// command interpreter (package cp) and the guest device model (package
// vmdev) on behalf of a guest, and directly by host-side code through
// Punch, Transfer, Change, Purge, List and QueryUser.
//
// Spool files are returned as File snapshots; the record slices they carry
// are never modified after a file is closed and must not be modified by
// callers.
package spool
