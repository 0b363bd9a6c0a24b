// Command demo shows zguest at work in three parts.
//
// Part 1 (DPM): it boots the emulated IBM Z kernel (FUSE /sys and /proc,
// real network interfaces in a private network namespace, an emulated
// udevd) with twelve qeth NICs as a DPM partition would have them, puts
// nova-dpm's NIC tokens on the kernel command line, runs the real agent
// binary, and shows what it did.
//
// Part 2 (z/VM): it runs the z/VM simulator in-process, starts the real
// zguest-hostd binary against it, drives the daemon over REST as nova's
// z/VM driver spawns an instance (image import, guest create, deploy with
// a config drive, two NICs, start), then boots the guest in the emulated
// kernel on the simulator's spool and runs the real agent, which takes
// the config drive and the NIC list from its reader.
//
// Part 3 (DPM through the daemon): it runs the HMC simulator in-process
// (HTTPS, its own CA), starts the real zguest-hostd binary on the dpm
// backend against it, drives the daemon over REST as nova spawns an
// instance (guest create, network interface with two NICs, deploy from
// a boot volume, start), shows the partition's
// boot-os-specific-parameters, appends them to the emulated kernel's
// command line and runs the real agent, which brings both NICs up with
// the MACs nova asked for.
//
// It needs root (FUSE mounts, network namespaces).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zguest/zguest/internal/zkernel"
	"github.com/zguest/zguest/internal/zkernel/zkerneltest"
)

func main() {
	agent := flag.String("agent", "bin/zguest-agent", "the agent binary")
	hostd := flag.String("hostd", "", "the host daemon binary (default: zguest-hostd next to -agent)")
	flag.Parse()
	if *hostd == "" {
		*hostd = filepath.Join(filepath.Dir(*agent), "zguest-hostd")
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: the emulated kernel needs root (FUSE mounts, network namespaces): run 'sudo make demo'")
		os.Exit(1)
	}
	heading("Part 1 of 3: a DPM partition with 12 NICs, the agent reads nova-dpm's tokens from the kernel command line")
	if err := runDPM(*agent); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	heading("Part 2 of 3: z/VM, nova -> zguest-hostd -> z/VM (simulated) -> the guest's reader -> the agent")
	if err := runZVM(*agent, *hostd); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Println()
	heading("Part 3 of 3: DPM, nova -> zguest-hostd -> HMC (simulated) -> boot-os-specific-parameters -> the agent")
	if err := runDPMHostd(*agent, *hostd); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// heading prints a part's title, underlined.
func heading(title string) {
	fmt.Printf("%s\n%s\n\n", title, strings.Repeat("=", len(title)))
}

// runDPM is part 1.
func runDPM(agent string) error {
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
			return fmt.Errorf("HiperSockets device %s: %w", read, err)
		}
		devs = append(devs, d...)
		devno := strings.ToUpper(read[4:])
		nics = append(nics, zkerneltest.DPMNIC{BusID: read, Token: devno + ",0,02000000" + devno + ";"})
	}
	cmdline := "root=UUID=5b5c9c6e-3b0f-4a53-9d9e-0c1d2e3f4a5b ro cio_ignore=all,!condev " + zkerneltest.Tokens(nics, " ")
	root, err := os.MkdirTemp("", "zguest-demo")
	if err != nil {
		return fmt.Errorf("temporary root: %w", err)
	}
	defer os.RemoveAll(root)
	env, err := zkerneltest.Boot(zkernel.Config{Devices: devs, Cmdline: cmdline, RenameDelay: 20 * time.Millisecond, RegistrationDelay: 10 * time.Millisecond}, root)
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		return fmt.Errorf("boot the emulated kernel: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Printf("Emulated DPM partition: 12 qeth NICs (10 OSA, 2 HiperSockets), /sys and /proc mounted at %s\n", env.Root)
	fmt.Printf("/proc/cmdline: %s\n\n", cmdline)
	step := func(title string, name string, args ...string) error { return step(ctx, env, title, name, args...) }
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

// step runs a program in the emulated guest and shows its output.
func step(ctx context.Context, env *zkerneltest.Env, title string, name string, args ...string) error {
	fmt.Printf("$ %s\n", title)
	cmd := env.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	err := cmd.Run()
	fmt.Println()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // the agent's exit status is part of what is shown
	}
	if err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	return nil
}
