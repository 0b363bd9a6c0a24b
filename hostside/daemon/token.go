package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// tokenFile reads the admin token from a file, again whenever the file
// changes (the original re-reads token_path on every request, so a new
// token from zvmsdk-gentoken takes effect without a restart).
type tokenFile struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	size int64
	tok  []byte
}

func (t *tokenFile) get() ([]byte, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && fi.ModTime().Equal(t.mod) && fi.Size() == t.size {
		return t.tok, nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("admin token: %s is empty", t.path)
	}
	t.tok, t.mod, t.size = b, fi.ModTime(), fi.Size()
	return b, nil
}

// checkTokenFile fails startup early on a missing, empty or
// world-readable token file.
func checkTokenFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf(`"token_path": %w`, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf(`"token_path" %s is readable by others (mode %v): chmod 600 it`, path, fi.Mode().Perm())
	}
	if _, err := (&tokenFile{path: path}).get(); err != nil {
		return errors.Unwrap(err)
	}
	return nil
}
