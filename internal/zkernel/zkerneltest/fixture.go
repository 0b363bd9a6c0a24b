package zkerneltest

import (
	"fmt"
	"strings"

	"github.com/zguest/zguest/internal/zkernel"
)

// DPMNIC is one NIC of a DPM-style fixture.
type DPMNIC struct {
	BusID string // read subchannel, "0.0.1000"
	Token string // its command-line token, "1000,0,020000001000;"
	MAC   string // the MAC the token asks for, "02:00:00:00:10:00"
	Port  int
}

// DPMNICs makes n OSA adapters with read device numbers base, base+3, ...,
// each on its own CHPID, with alternating ports and distinct locally
// administered MACs, and the DPM tokens nova-dpm would write for them
// (device numbers upper case when upper, as the HMC reports them).
func DPMNICs(n int, base uint16, upper bool) ([]zkernel.Device, []DPMNIC) {
	var devs []zkernel.Device
	var nics []DPMNIC
	for i := 0; i < n; i++ {
		devno := base + uint16(i)*3
		id := fmt.Sprintf("0.0.%04x", devno)
		d, err := zkernel.QethDevices(zkernel.KindOSD, uint8(i%256), id)
		if err != nil {
			panic(err) // base and n come from the caller's code
		}
		devs = append(devs, d...)
		hex := fmt.Sprintf("%04x", devno)
		if upper {
			hex = strings.ToUpper(hex)
		}
		mac := fmt.Sprintf("02%02x0000%04x", i%256, devno)
		nics = append(nics, DPMNIC{
			BusID: id,
			Token: fmt.Sprintf("%s,%d,%s;", hex, i%2, mac),
			MAC:   fmt.Sprintf("02:%02x:00:00:%02x:%02x", i%256, devno>>8, devno&0xff),
			Port:  i % 2,
		})
	}
	return devs, nics
}

// Tokens joins the NICs' tokens with sep (" " as nova-dpm writes them
// now, "" as older versions did).
func Tokens(nics []DPMNIC, sep string) string {
	t := make([]string, len(nics))
	for i, n := range nics {
		t[i] = n.Token
	}
	return strings.Join(t, sep)
}
