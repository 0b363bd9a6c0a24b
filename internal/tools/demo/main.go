// Command demo shows zguest-agent at work: it boots the emulated IBM Z
// kernel (FUSE /sys and /proc, real network interfaces in a private
// network namespace, an emulated udevd) with twelve qeth NICs as a DPM
// partition would have them, puts nova-dpm's NIC tokens on the kernel
// command line, runs the real agent binary, and shows what it did. It
// needs root (FUSE mounts, network namespaces).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

func main() {
	agent := flag.String("agent", "bin/zguest-agent", "the agent binary")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: the emulated kernel needs root (FUSE mounts, network namespaces): run 'sudo make demo'")
		os.Exit(1)
	}
	if err := run(*agent); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(agent string) error {
	// Ten OSA ports and two HiperSockets, as a DPM partition with twelve
	// NICs has them; the HMC reports device numbers in upper case, and
	// the installer left the first adapter on cio_ignore.
	devs, nics := zkerneltest.DPMNICs(10, 0x1000, true)
	for i := range devs[:3] {
		devs[i].Ignored = true
	}
	for _, read := range []string{"0.0.7000", "0.0.7003"} {
		d, err := zkernel.QethDevices(zkernel.KindIQD, 0xf0, read)
		if err != nil {
			return err
		}
		devs = append(devs, d...)
		devno := strings.ToUpper(read[4:])
		nics = append(nics, zkerneltest.DPMNIC{BusID: read, Token: devno + ",0,02000000" + devno + ";"})
	}
	cmdline := "root=UUID=5b5c9c6e-3b0f-4a53-9d9e-0c1d2e3f4a5b ro cio_ignore=all,!condev " + zkerneltest.Tokens(nics, " ")
	root, err := os.MkdirTemp("", "zguest-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(zkernel.Config{Devices: devs, Cmdline: cmdline, RenameDelay: 20 * time.Millisecond, RegistrationDelay: 10 * time.Millisecond}, root)
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Printf("Emulated DPM partition: 12 qeth NICs (10 OSA, 2 HiperSockets), /sys and /proc mounted at %s\n", env.Root)
	fmt.Printf("/proc/cmdline: %s\n\n", cmdline)
	step := func(title string, name string, args ...string) error {
		fmt.Printf("$ %s\n", title)
		cmd := env.Command(ctx, name, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		err := cmd.Run()
		fmt.Println()
		if _, ok := err.(*exec.ExitError); ok {
			return nil // the agent's exit status is part of what is shown
		}
		return err
	}
	if err := step("zguest-agent activate", agent, "--root", env.Root, "activate"); err != nil {
		return err
	}
	if err := step("zguest-agent status", agent, "--root", env.Root, "status"); err != nil {
		return err
	}
	if err := step("ip -br link   (in the guest's network namespace)", "ip", "-br", "link"); err != nil {
		return err
	}
	return step("zguest-agent activate   (a second run changes nothing)", agent, "--root", env.Root, "activate")
}
