// Package conformance runs nova's own in-tree z/VM compute driver
// (Debian 12's python3-nova with python3-zvmcloudconnector, unmodified)
// against the built zguest-hostd, step by step in the order nova-compute
// calls it, on each backend: z/VM on the z/VM simulator, KVM on a real
// libvirtd, DPM on the HMC simulator. The driver is the caller the daemon
// exists for; a step it cannot complete is a bug in the daemon.
//
// novadriver.py is the harness: it configures nova as a lone compute host
// would, stands in only for what such a host lacks (glance download,
// upload and delete; neutron's security groups; virt events), and prints
// one JSON line per step. The Go tests start everything the driver needs
// (the daemon, the backend, a private sshd on loopback with an ssh-agent
// for the daemon's scp from remotehost) and report each step as a
// subtest, so that one failing step fails the build and names itself.
//
// See README.md for how to run it and what each step proves.
package conformance
