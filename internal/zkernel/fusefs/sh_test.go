package fusefs

import "os/exec"

func runSh(dir, script string) (string, error) {
	cmd := exec.Command("bash", "-c", script) // dash reports every write error as "I/O error"
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
