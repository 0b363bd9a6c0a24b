package cp_test

import (
	"strings"
	"testing"

	"github.com/zguest/zguest/internal/zvm/cp"
	"github.com/zguest/zguest/internal/zvm/spool"
)

func TestQueryUserid(t *testing.T) {
	sys := spool.New(spool.Options{HostID: "OPNCLOUD"})
	c := cp.New(sys)
	out, rc := c.Exec("OPNCLOUD", "QUERY USERID")
	if rc != 0 || string(out) != "OPNCLOUD AT ZVMSIM1\n" {
		t.Errorf("%q rc %d", out, rc)
	}
	c.SetSystemName("BOEVM7")
	out, rc = c.Exec("opncloud", "q userid")
	if f := strings.Fields(string(out)); rc != 0 || len(f) != 3 || f[0] != "OPNCLOUD" || f[2] != "BOEVM7" {
		t.Errorf("%q rc %d", out, rc)
	}
	if _, rc := c.Exec("OPNCLOUD", "QUERY USERID EXTRA"); rc != cp.RCInvalidOption {
		t.Errorf("extra operand: rc %d", rc)
	}
}
