package qcow2

import "errors"

// ErrCorrupt is wrapped by every error about an image that violates the
// qcow2 format or points outside itself.
var ErrCorrupt = errors.New("corrupt qcow2 image")

// ErrUnsupported is wrapped by errors about valid qcow2 features this
// package does not handle (backing files, encryption, external data files,
// zstd, extended L2 entries).
var ErrUnsupported = errors.New("unsupported qcow2 feature")
