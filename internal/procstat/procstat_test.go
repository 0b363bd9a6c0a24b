package procstat

import (
	"os"
	"testing"
)

func TestField(t *testing.T) {
	hwm, err := Field(os.Getpid(), "VmHWM")
	if err != nil || hwm < 1<<20 {
		t.Fatalf("VmHWM = %d, %v", hwm, err)
	}
	if _, err := Field(os.Getpid(), "NoSuchField"); err == nil {
		t.Fatal("no error for a missing field")
	}
}
