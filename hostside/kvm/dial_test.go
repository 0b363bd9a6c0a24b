package kvm_test

import (
	"time"

	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func dialersLocal(sock string) *dialers.Local {
	return dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(5*time.Second))
}
