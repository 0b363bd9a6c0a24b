// Package cp is the CP command interpreter of the z/VM emulator. Exec runs
// one command line on behalf of a user against a spool.System and returns
// the response CP would put into a DIAGNOSE X'08' response buffer, already
// translated to ASCII: lines ending in '\n', with the CP return code (the
// HCP message number for errors).
//
// Covered commands (keywords case-insensitive, NAME operands case kept):
// QUERY VIRTUAL, QUERY RDR|PUN|PRT, QUERY USER, SPOOL, CLOSE, ORDER,
// CHANGE, TRANSFER, PURGE and LINK, in the spellings vmur, vmcp users and
// the z/VM cloud connector issue. Response texts follow
// docs/facts/zvm-reader.md; texts and layouts not verified there are
// marked "guess:" where they are produced.
package cp
