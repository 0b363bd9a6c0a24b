// Package udev holds the udev rules zguest ships in guest images.
package udev

import "embed"

// Rules holds the rules zguest-image installs into guest images.
//
//go:embed *.rules
var Rules embed.FS
