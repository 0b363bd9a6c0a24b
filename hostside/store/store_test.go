package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	op, err := s.Begin("deploy", "G1", map[string]string{"image": "img"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutGuest(Guest{UserID: "G1", Progress: Deploying, NICs: []NIC{{Vdev: "1000", MAC: "02:00:00:00:00:01"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(op.ID, "disk written", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutImage(Image{Name: "img", OSVersion: "rhel9", Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	// A second daemon cannot open the same file.
	if _, err := Open(path, 50*time.Millisecond); err == nil {
		t.Fatal("second Open succeeded")
	}
	s.Close()

	s, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := s.Guest("G1")
	if err != nil || g.Progress != Deploying || len(g.NICs) != 1 || g.NICs[0].MAC != "02:00:00:00:00:01" || g.Created.IsZero() {
		t.Errorf("guest %+v %v", g, err)
	}
	p, err := s.Pending()
	if err != nil || len(p) != 1 || p[0].Kind != "deploy" || p[0].Step != "disk written" || string(p[0].Data) != `{"image":"img"}` {
		t.Errorf("pending %+v %v", p, err)
	}
	if err := s.End(op.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(); len(p) != 0 {
		t.Errorf("pending after End: %+v", p)
	}
	if _, err := s.Guest("NOPE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing guest: %v", err)
	}
	if ims, _ := s.Images(); len(ims) != 1 || ims[0].Name != "img" {
		t.Errorf("images %+v", ims)
	}
	s.DeleteImage("img")
	s.DeleteGuest("G1")
	if l, _ := s.Guests(); len(l) != 0 {
		t.Errorf("guests after delete %+v", l)
	}
}

// crashChildEnv makes the test binary a writer that a parent kills.
const crashChildEnv = "ZGUEST_STORE_CRASH_CHILD"

// TestMain lets the test binary re-exec itself as the crash child.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild creates guests forever the way a backend would: one
// transaction journals the create and writes the guest as Creating, a
// second marks it Created and ends the operation. It prints each commit.
func crashChild(path string) {
	s, err := Open(path, 5*time.Second)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	n := 0
	if l, err := s.Guests(); err == nil {
		n = len(l)
	}
	for i := n; ; i++ {
		u := fmt.Sprintf("G%06d", i)
		var id uint64
		err := s.Update(func(t *Tx) error {
			op, err := t.Begin("create", u, map[string]int{"n": i})
			id = op.ID
			if err != nil {
				return err
			}
			return t.PutGuest(Guest{UserID: u, Progress: Creating, Meta: map[string]string{"pad": strings.Repeat("x", i%3000)}})
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("begun", i)
		err = s.Update(func(t *Tx) error {
			if err := t.PutGuest(Guest{UserID: u, Progress: Created}); err != nil {
				return err
			}
			return t.End(id)
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("done", i)
	}
}

// TestCrashSafety kills a writing child with SIGKILL several times,
// reopening the file each time: every acknowledged commit is there, and
// a guest is Creating exactly when a create operation for it is pending.
func TestCrashSafety(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	done := -1
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		target := 20 + round*7
		seen := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "done" {
				done, _ = strconv.Atoi(f[1])
				seen++
				if seen >= target {
					break
				}
			} else if f[0] == "error" {
				t.Fatalf("child: %s", sc.Text())
			}
		}
		// Kill it somewhere in the middle of its next transactions.
		time.Sleep(time.Duration(round) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, err := Open(path, time.Second)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		guests, err := s.Guests()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		pending, err := s.Pending()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		creating := map[string]bool{}
		byID := map[string]Guest{}
		for _, g := range guests {
			byID[g.UserID] = g
			if g.Progress == Creating {
				creating[g.UserID] = true
			}
		}
		for i := 0; i <= done; i++ {
			u := fmt.Sprintf("G%06d", i)
			if g, ok := byID[u]; !ok || (g.Progress != Created && !creating[u]) {
				t.Errorf("round %d: acknowledged guest %s lost or wrong: %+v", round, u, g)
			}
		}
		pend := map[string]bool{}
		for _, op := range pending {
			pend[op.Target] = true
			if !creating[op.Target] {
				t.Errorf("round %d: pending op %+v for a guest not Creating", round, op)
			}
		}
		for u := range creating {
			if !pend[u] {
				t.Errorf("round %d: guest %s Creating without a pending op", round, u)
			}
		}
		// Recovery as a backend would do it: roll the half-done back.
		err = s.Update(func(tx *Tx) error {
			for _, op := range pending {
				if err := tx.DeleteGuest(op.Target); err != nil {
					return err
				}
				if err := tx.End(op.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d guests, %d rolled back, last acknowledged %d", round, len(guests), len(pending), done)
		s.Close()
	}
}
