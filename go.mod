module github.com/zguest/zguest

go 1.26.0

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/jkeiser/iter v0.0.0-20200628201005-c8aa0ae784d1 // indirect
	github.com/jochenvg/go-udev v0.0.0-20171110120927-d6b62d56d37b
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	go.etcd.io/bbolt v1.4.3
	golang.org/x/sys v0.49.0
)

require github.com/klauspost/compress v1.18.5

require gopkg.in/yaml.v3 v3.0.1

require (
	github.com/digitalocean/go-libvirt v0.0.0-20260217163227-273eaa321819
	golang.org/x/crypto v0.48.0 // indirect
)
