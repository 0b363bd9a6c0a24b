package api

import "context"

// Capturer is implemented by backends that can capture a guest's disk
// into an image (POST /guests/{userid}/action "capture"). Without it the
// action answers 501, as the original does for functions it lacks.
type Capturer interface {
	Capture(ctx context.Context, userid string, c CaptureSpec) error
}

// CaptureSpec is the capture action's body.
type CaptureSpec struct {
	Image         string `json:"image"`
	CaptureType   string `json:"capture_type,omitempty"` // rootonly (default) or alldisks
	CompressLevel int    `json:"compress_level,omitempty"`
}

// Exporter is implemented by backends that can export an image
// (PUT /images/{name}); without it the route answers 501.
type Exporter interface {
	ExportImage(ctx context.Context, name string, e ExportSpec) (map[string]any, error)
}

// ExportSpec is PUT /images/{name}'s "location" object.
type ExportSpec struct {
	DestURL    string `json:"dest_url"`
	RemoteHost string `json:"remote_host,omitempty"`
}

// notImplemented is returncode.py errors['serviceNotSupport'].
func notImplemented(mod int, fn string) *Error {
	return &Error{OverallRC: 501, ModID: mod, RC: 501, RS: 1,
		Msg: "The requested function: " + fn + " has not been implemented in current release"}
}
