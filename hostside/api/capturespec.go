package api

import "fmt"

// Check refuses what no backend captures, with the original's answers:
// capture_type alldisks is SDKFunctionNotImplementError (501; zvmsdk
// smtclient guest_capture), a compress_level outside 0-9 an input error
// (creatediskimage's range).
func (c CaptureSpec) Check() error {
	if c.CaptureType == "alldisks" {
		return &Error{OverallRC: 501, ModID: ModGuest, RC: 501, RS: 1,
			Msg: "The requested function: Capture guest with type: alldisks has not been implemented in current release"}
	}
	if c.CompressLevel < 0 || c.CompressLevel > 9 {
		return &Error{OverallRC: 100, ModID: ModGuest, RC: 100, RS: 1,
			Msg: fmt.Sprintf("compress_level %d: want 0 (no compression) to 9", c.CompressLevel)}
	}
	return nil
}
