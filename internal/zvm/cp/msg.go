package cp

import (
	"fmt"
	"strings"
)

// HCP message numbers used as CP return codes.
const (
	RCUnknownCommand = 1
	RCInvalidOption  = 3
	RCInvalidUserID  = 7  // CLOSE TO an unknown user
	RCUserIDMissing  = 20 // guess: LINK with a malformed userid
	RCNoVdev         = 21 // guess: LINK without a virtual device
	RCOperandMissing = 26
	RCNoDevice       = 40
	RCNoSpoolID      = 42 // guess
	RCNotLoggedOn    = 45
	RCNotInDirectory = 53
	RCLogoffPending  = 361
	RCQueueFull      = 439
)

// Module codes: CMD, CQV, QVD, CSL, CQU and LNM appear in the reference
// for the messages used with them here.
// guess: CSP (SPOOL), CQR (QUERY RDR) and CSU (ORDER, CHANGE, TRANSFER,
// PURGE) are invented; callers should match the number, not the module.

// msg formats one HCP message line: HCP + module + number + severity, a
// blank, the text and '\n'.
func msg(module string, num int, text string, args ...any) []byte {
	return fmt.Appendf(nil, "HCP%s%03dE %s\n", module, num, fmt.Sprintf(text, args...))
}

// echo makes an operand safe to echo in a message line.
// guess: CP would echo the translated bytes; control and non-ASCII bytes
// are shown as '.' so every response stays one message per line.
func echo(tok string) string {
	b := []byte(tok)
	for i, c := range b {
		if c < ' ' || c >= 0x7f {
			b[i] = '.'
		}
	}
	return string(b)
}

func unknownCommand(verb string) ([]byte, int) {
	return msg("CMD", RCUnknownCommand, "Unknown CP command: %s", echo(verb)), RCUnknownCommand
}

func invalidOption(mod, tok string) ([]byte, int) {
	return msg(mod, RCInvalidOption, "Invalid option - %s", echo(tok)), RCInvalidOption
}

func operandMissing(mod string) ([]byte, int) {
	return msg(mod, RCOperandMissing, "Operand missing or invalid"), RCOperandMissing
}

func noDevice(mod string, vdev int) ([]byte, int) {
	return msg(mod, RCNoDevice, "Device %04X does not exist", vdev), RCNoDevice
}

func invalidUserID(mod, u string) ([]byte, int) {
	return msg(mod, RCInvalidUserID, "Invalid userid - %s", echo(u)), RCInvalidUserID
}

func notInDirectory(mod, u string) ([]byte, int) {
	return msg(mod, RCNotInDirectory, "%s not in CP directory", echo(strings.ToUpper(u))), RCNotInDirectory
}

// guess: text of HCP042E for a spool id that does not exist.
func noSpoolID(mod string, id int) ([]byte, int) {
	return msg(mod, RCNoSpoolID, "Spoolid %04d does not exist", id), RCNoSpoolID
}

// guess: text of HCP439E; vmur only relies on the number.
func queueFull(mod, u string) ([]byte, int) {
	return msg(mod, RCQueueFull, "%s spool fileid limit exceeded", echo(strings.ToUpper(u))), RCQueueFull
}

// count formats a file count line: "0000003 FILES PURGED".
// guess: the singular form "FILE " keeps the column; the zero form is
// "NO FILES <verb>".
func count(n int, verb string) []byte {
	switch n {
	case 0:
		return fmt.Appendf(nil, "NO FILES %s\n", verb)
	case 1:
		return fmt.Appendf(nil, "%07d FILE  %s\n", n, verb)
	}
	return fmt.Appendf(nil, "%07d FILES %s\n", n, verb)
}
