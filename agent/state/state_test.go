package state

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestUpdateConcurrent(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := Update(root, func(s *State) {
				s.Upsert(NIC{BusID: "0.0.f5" + string(rune('0'+i/10)) + string(rune('0'+i%10)), Outcome: OutcomeUp})
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.NICs) != 20 || !s.OK || s.NICs[0].BusID != "0.0.f500" {
		t.Errorf("%d NICs ok=%v", len(s.NICs), s.OK)
	}
	Update(root, func(s *State) { s.Upsert(NIC{BusID: "0.0.f500", Outcome: OutcomeFailed}) })
	s, _ = Load(root)
	if s.OK || len(s.NICs) != 20 {
		t.Errorf("after failure ok=%v n=%d", s.OK, len(s.NICs))
	}
	fi, _ := os.Stat(filepath.Join(root, Path))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestLoadDamaged(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "run/zguest"), 0o755)
	os.WriteFile(filepath.Join(root, Path), []byte("{"), 0o644)
	if _, err := Load(root); err == nil {
		t.Error("want error for damaged file")
	}
	if err := Update(root, func(s *State) {}); err != nil {
		t.Errorf("Update must replace a damaged file: %v", err)
	}
}

func TestReaderAddFilesDeduplicatesAndCaps(t *testing.T) {
	var r Reader
	for run := 0; run < 3; run++ {
		var fs []ReaderFile
		for id := 1; id <= 600; id++ {
			fs = append(fs, ReaderFile{SpoolID: id, Outcome: ReaderLeft, Reason: string(rune('a' + run))})
		}
		r.AddFiles(fs)
	}
	if len(r.Files) != 600 || r.Files[0].SpoolID != 1 || r.Files[0].Reason != "c" {
		t.Fatalf("%d records, first %+v", len(r.Files), r.Files[0])
	}
	var more []ReaderFile
	for id := 601; id <= 1500; id++ {
		more = append(more, ReaderFile{SpoolID: id})
	}
	r.AddFiles(more)
	if len(r.Files) != MaxReaderFiles || r.Files[0].SpoolID != 501 || r.Files[len(r.Files)-1].SpoolID != 1500 {
		t.Errorf("%d records, %d..%d", len(r.Files), r.Files[0].SpoolID, r.Files[len(r.Files)-1].SpoolID)
	}
}
