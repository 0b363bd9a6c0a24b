package zkernel

// GroupState is a snapshot of a qeth group for tests.
type GroupState struct {
	BusID     string
	Members   [3]string
	Online    bool
	Layer2    int  // -1, 0, 1
	Enforced  bool // the layer is enforced by the hypervisor
	PortNo    int
	CardState string // the state attribute
	// Registered reports whether the net device is registered; IfName,
	// Ifindex and MAC are empty/zero while it is not.
	Registered bool
	IfName     string
	Ifindex    int
	MAC        string
	Present    bool // the net device is attached (group online)
}

// Group returns the state of the group named busID (its read device), in
// any case.
func (k *Kernel) Group(busID string) (GroupState, bool) {
	id, err := parseFixtureBusID(busID)
	if err != nil {
		return GroupState{}, false
	}
	k.lock()
	defer k.unlock()
	g := k.groups[id]
	if g == nil {
		return GroupState{}, false
	}
	st := GroupState{
		BusID: g.id.String(), Online: g.online, Layer2: g.layer, Enforced: g.enforced,
		PortNo: g.portno, CardState: k.cardState(g),
		Registered: g.nd.registered, Present: g.nd.present,
	}
	for i, m := range g.members {
		st.Members[i] = m.id.String()
	}
	if g.nd.registered {
		st.IfName, st.Ifindex = g.nd.name, g.nd.ifindex
		if mac, err := k.net.HardwareAddr(g.nd.name); err == nil {
			st.MAC = mac.String()
		}
	}
	return st, true
}

// DeviceState is a snapshot of one CCW device for tests.
type DeviceState struct {
	BusID      string
	Kind       Kind
	Registered bool
	Ignored    bool // on cio_ignore now
	Pending    bool // freed, registration pending
	Driver     string
	Online     bool
	Group      string // read device of its group, "" if none
}

// Device returns the state of the CCW device busID; ok is false for
// devices that are not part of the machine (including Missing ones).
func (k *Kernel) Device(busID string) (DeviceState, bool) {
	id, err := parseFixtureBusID(busID)
	if err != nil {
		return DeviceState{}, false
	}
	k.lock()
	defer k.unlock()
	d := k.byID[id]
	if d == nil {
		return DeviceState{}, false
	}
	st := DeviceState{
		BusID: d.id.String(), Kind: d.spec.Kind, Registered: d.registered, Ignored: k.bl.has(d.id),
		Pending: k.pending[d.id], Driver: d.driver, Online: d.online,
	}
	if d.group != nil {
		st.Group = d.group.id.String()
	}
	return st, true
}

// QethLoaded reports whether the qeth driver is loaded.
func (k *Kernel) QethLoaded() bool {
	k.lock()
	defer k.unlock()
	return k.qethLoaded
}
