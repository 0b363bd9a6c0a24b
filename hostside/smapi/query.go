package smapi

import (
	"context"
	"fmt"
)

// Query and image-list function names.
const (
	FnQueryAPIFunctionalLevel = "Query_API_Functional_Level"
	FnImageStatusQuery        = "Image_Status_Query"
	FnImageActiveConfigQuery  = "Image_Active_Configuration_Query"
	FnNameListAdd             = "Name_List_Add"
	FnNameListRemove          = "Name_List_Remove"
	FnNameListQuery           = "Name_List_Query"
	FnNameListDestroy         = "Name_List_Destroy"
)

// API functional levels: Query_API_Functional_Level answers rc 0 with the
// level in the reason code (zthin smcliQuery.c queryAPIFunctionalLevel,
// rcdescriptions.c): 0 is z/VM 5.3, then 540, 610, 611/612 (the 6.1 SPE),
// 620/621, 630-632, 640-709 (6.4), 710-719 (7.1), 720 and up (7.2).
const (
	LevelZVM53 = 0
	LevelZVM54 = 540
	LevelZVM61 = 610
	LevelZVM62 = 620
	LevelZVM63 = 630
	LevelZVM64 = 640
	LevelZVM71 = 710
	LevelZVM72 = 720
)

// LevelName names a functional level as smcli prints it.
func LevelName(level int) string {
	switch {
	case level == 0:
		return "z/VM V5.3"
	case level == 540:
		return "z/VM V5.4"
	case level == 610:
		return "z/VM V6.1"
	case level == 611 || level == 612:
		return "the updated z/VM V6.1 SPE release"
	case level == 620 || level == 621:
		return "z/VM V6.2"
	case level >= 630 && level <= 632:
		return "z/VM V6.3"
	case level >= 640 && level < 710:
		return "z/VM V6.4"
	case level >= 710 && level < 720:
		return "z/VM V7.1"
	case level >= 720:
		return "z/VM V7.2"
	}
	return fmt.Sprintf("unknown level %d", level)
}

// QueryAPIFunctionalLevel returns the server's API level (the reason
// code of its rc 0 reply). Clients call it first to learn what the
// server supports.
func (c *Client) QueryAPIFunctionalLevel(ctx context.Context, target string) (int, error) {
	resp, err := c.Call(ctx, FnQueryAPIFunctionalLevel, target, nil)
	if err != nil {
		return 0, err
	}
	return int(resp.RS), nil
}

// Failure is one entry of an Image_Activate / Image_Deactivate failing
// array: an image of a name list that was not (de)activated.
type Failure struct {
	Image  string
	RC, RS int32
}

// Activation is the output of Image_Activate and Image_Deactivate
// (zthin vmapiImage.h Image_Activate_Layout): the number of images
// (de)activated and not, and the failing array, each entry a structure
// length, the image name (1-8), its return and reason code. A server may
// end the output after rc and rs (a single image that succeeded); the
// fields are then zero, as zthin's table parser leaves them.
type Activation struct {
	Done, NotDone int32
	Failing       []Failure
}

// Encode returns the output data of an Activation.
func (a Activation) Encode() []byte {
	var p Params
	p.Int(a.Done).Int(a.NotDone)
	var arr Params
	for _, f := range a.Failing {
		arr.Int(int32(4 + len(f.Image) + 8)).String(f.Image).Int(f.RC).Int(f.RS)
	}
	p.Int(int32(len(arr.Bytes())))
	p.b = append(p.b, arr.Bytes()...)
	return p.Bytes()
}

// DecodeActivation parses Image_Activate / Image_Deactivate output data.
func DecodeActivation(data []byte) (Activation, error) {
	var a Activation
	if len(data) == 0 {
		return a, nil
	}
	r := NewParamReader(data)
	var err error
	if a.Done, err = r.Int(); err != nil {
		return a, fmt.Errorf("activated count: %w", err)
	}
	if a.NotDone, err = r.Int(); err != nil {
		return a, fmt.Errorf("not-activated count: %w", err)
	}
	arr, err := r.sized()
	if err != nil {
		return a, fmt.Errorf("failing array: %w", err)
	}
	sr := NewParamReader(arr)
	for !sr.Done() {
		st, err := sr.sized()
		if err != nil {
			return a, fmt.Errorf("failing array entry %d: %w", len(a.Failing), err)
		}
		er := NewParamReader(st)
		var f Failure
		if f.Image, err = er.String(); err == nil && (len(f.Image) < 1 || len(f.Image) > 8) {
			err = fmt.Errorf("image name of %d characters (1-8 allowed): %w", len(f.Image), ErrFrame)
		}
		if err == nil {
			f.RC, err = er.Int()
		}
		if err == nil {
			f.RS, err = er.Int()
		}
		if err != nil {
			return a, fmt.Errorf("failing array entry %d: %w", len(a.Failing), err)
		}
		a.Failing = append(a.Failing, f)
	}
	return a, nil
}

// Activate logs target (an image or a name list) on and returns the
// counts. For a name list some images may fail while others start: the
// server answers 200/28 and lists them; the Activation is returned with
// the *Error.
func (c *Client) Activate(ctx context.Context, target string) (Activation, error) {
	resp, err := c.Call(ctx, FnImageActivate, target, nil)
	a, derr := DecodeActivation(resp.Data)
	if derr != nil && err == nil {
		err = fmt.Errorf("SMAPI %s for %s: output: %w", FnImageActivate, target, derr)
	}
	return a, err
}

// Deactivate logs target (an image or a name list) off, as Activate;
// forceTime is "IMMED", "WITHIN n" or "BY hh:mm" ("" = system default).
// A partial failure of a list answers 200/32.
func (c *Client) Deactivate(ctx context.Context, target, forceTime string) (Activation, error) {
	var p Params
	p.String(forceTime)
	resp, err := c.Call(ctx, FnImageDeactivate, target, p.Bytes())
	a, derr := DecodeActivation(resp.Data)
	if derr != nil && err == nil {
		err = fmt.Errorf("SMAPI %s for %s: output: %w", FnImageDeactivate, target, derr)
	}
	return a, err
}

// EncodeNames returns an image name array (Image_Status_Query,
// Name_List_Query): the int32 total length, then each name as an int32
// length and its characters, no structure length in between (zthin's
// APITYPE_NOBUFFER_STRUCT_LEN).
func EncodeNames(names []string) []byte {
	var p Params
	p.Array(names)
	return p.Bytes()
}

// DecodeNames parses an image name array; every name must be 1 to max
// characters (8 for image names, 64 for name list entries).
func DecodeNames(data []byte, max int) ([]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	names, err := NewParamReader(data).Array()
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		if len(n) < 1 || len(n) > max {
			return nil, fmt.Errorf("name %d of %d characters (1-%d allowed): %w", i, len(n), max, ErrFrame)
		}
	}
	return names, nil
}

// ImageStatusQuery returns the active images among target: a userid, a
// name list, or "*" for every active image. A single image that is not
// active answers 200/12.
func (c *Client) ImageStatusQuery(ctx context.Context, target string) ([]string, error) {
	return c.names(ctx, FnImageStatusQuery, target, 8)
}

// names calls a function whose output is a name array.
func (c *Client) names(ctx context.Context, function, target string, max int) ([]string, error) {
	resp, err := c.Call(ctx, function, target, nil)
	if err != nil {
		return nil, err
	}
	names, err := DecodeNames(resp.Data, max)
	if err != nil {
		return nil, fmt.Errorf("SMAPI %s for %s: output: %w", function, target, err)
	}
	return names, nil
}

// Memory units, share types, CPU states and device types of
// Image_Active_Configuration_Query (zthin smcliImage.c
// imageActiveConfigurationQuery).
const (
	UnitKB = 1
	UnitMB = 2
	UnitGB = 3

	ShareRelative = 1
	ShareAbsolute = 2

	CPUBase         = 1
	CPUStopped      = 2
	CPUCheckStopped = 3
	CPUNonBase      = 4

	DevConsole = 1
	DevReader  = 2
	DevPunch   = 3
	DevPrinter = 4
	DevDASD    = 5
)

// CPU is one virtual CPU of a running image.
type CPU struct {
	Number int32
	ID     string // 1-16 characters, the CPU id in hex
	Status byte   // CPUBase, CPUStopped, ...
}

// Device is one virtual device of a running image.
type Device struct {
	Type    byte   // DevConsole, DevReader, ...
	Address string // 4-16 characters, "0009"
}

// ActiveConfig is the output of Image_Active_Configuration_Query
// (zthin vmapiImage.h Image_Active_Configuration_Query_Layout): memory
// size and unit, share type and value (1-5 characters), the CPU count,
// the CPU array (each entry a structure length, number, id, status) and
// the device array (each entry a structure length, type, address).
type ActiveConfig struct {
	Memory     int32
	MemoryUnit byte
	ShareType  byte
	ShareValue string
	NumCPUs    int32
	CPUs       []CPU
	Devices    []Device
}

// MemoryKB returns the memory size in KiB (0 for an unknown unit).
func (a ActiveConfig) MemoryKB() int64 {
	switch a.MemoryUnit {
	case UnitKB:
		return int64(a.Memory)
	case UnitMB:
		return int64(a.Memory) << 10
	case UnitGB:
		return int64(a.Memory) << 20
	}
	return 0
}

// Encode returns the output data of an ActiveConfig.
func (a ActiveConfig) Encode() []byte {
	var p Params
	p.Int(a.Memory).Byte(a.MemoryUnit).Byte(a.ShareType).String(a.ShareValue).Int(a.NumCPUs)
	var cpus Params
	for _, c := range a.CPUs {
		cpus.Int(int32(4 + 4 + len(c.ID) + 1)).Int(c.Number).String(c.ID).Byte(c.Status)
	}
	p.Int(int32(len(cpus.b)))
	p.b = append(p.b, cpus.b...)
	var devs Params
	for _, d := range a.Devices {
		devs.Int(int32(1 + 4 + len(d.Address))).Byte(d.Type).String(d.Address)
	}
	p.Int(int32(len(devs.b)))
	p.b = append(p.b, devs.b...)
	return p.Bytes()
}

// DecodeActiveConfig parses Image_Active_Configuration_Query output
// data, checking the field sizes zthin's parser table checks.
func DecodeActiveConfig(data []byte) (ActiveConfig, error) {
	var a ActiveConfig
	r := NewParamReader(data)
	var err error
	step := func(name string, f func() error) {
		if err == nil {
			if e := f(); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	}
	step("memory size", func() (e error) { a.Memory, e = r.Int(); return })
	step("memory unit", func() (e error) { a.MemoryUnit, e = r.Byte(); return })
	step("share type", func() (e error) { a.ShareType, e = r.Byte(); return })
	step("share value", func() (e error) { a.ShareValue, e = boundedString(r, 1, 5); return })
	step("number of CPUs", func() (e error) { a.NumCPUs, e = r.Int(); return })
	step("CPU array", func() error {
		return structArray(r, func(sr *ParamReader) (e error) {
			var c CPU
			if c.Number, e = sr.Int(); e != nil {
				return e
			}
			if c.ID, e = boundedString(sr, 1, 16); e != nil {
				return e
			}
			if c.Status, e = sr.Byte(); e != nil {
				return e
			}
			a.CPUs = append(a.CPUs, c)
			return nil
		})
	})
	step("device array", func() error {
		return structArray(r, func(sr *ParamReader) (e error) {
			var d Device
			if d.Type, e = sr.Byte(); e != nil {
				return e
			}
			if d.Address, e = boundedString(sr, 4, 16); e != nil {
				return e
			}
			a.Devices = append(a.Devices, d)
			return nil
		})
	})
	return a, err
}

// ImageActiveConfigurationQuery returns the running configuration of
// target; an image that is not logged on answers 200/12.
func (c *Client) ImageActiveConfigurationQuery(ctx context.Context, target string) (ActiveConfig, error) {
	resp, err := c.Call(ctx, FnImageActiveConfigQuery, target, nil)
	if err != nil {
		return ActiveConfig{}, err
	}
	a, err := DecodeActiveConfig(resp.Data)
	if err != nil {
		return ActiveConfig{}, fmt.Errorf("SMAPI %s for %s: output: %w", FnImageActiveConfigQuery, target, err)
	}
	return a, nil
}

// boundedString reads a length-prefixed string of min..max characters.
func boundedString(r *ParamReader, lo, hi int) (string, error) {
	s, err := r.String()
	if err != nil {
		return "", err
	}
	if len(s) < lo || len(s) > hi {
		return "", fmt.Errorf("%d characters (%d-%d allowed): %w", len(s), lo, hi, ErrFrame)
	}
	return s, nil
}

// structArray reads an array whose entries each carry a structure
// length (zthin's APITYPE_STRUCT_LEN) and hands each entry to entry,
// which must read all of it. Empty structures are skipped, as zthin does.
func structArray(r *ParamReader, entry func(*ParamReader) error) error {
	arr, err := r.sized()
	if err != nil {
		return err
	}
	sr := NewParamReader(arr)
	for i := 0; !sr.Done(); i++ {
		st, err := sr.sized()
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if len(st) == 0 {
			continue
		}
		er := NewParamReader(st)
		if err := entry(er); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if !er.Done() {
			return fmt.Errorf("entry %d: %d bytes beyond its fields: %w", i, len(er.Rest()), ErrFrame)
		}
	}
	return nil
}

// NameListAdd adds name to the name list target (created if missing).
func (c *Client) NameListAdd(ctx context.Context, list, name string) error {
	var p Params
	p.String(name)
	_, err := c.Call(ctx, FnNameListAdd, list, p.Bytes())
	return err
}

// NameListRemove removes name from the name list target; the list is
// destroyed when it becomes empty.
func (c *Client) NameListRemove(ctx context.Context, list, name string) error {
	var p Params
	p.String(name)
	_, err := c.Call(ctx, FnNameListRemove, list, p.Bytes())
	return err
}

// NameListQuery returns the names in the name list target.
func (c *Client) NameListQuery(ctx context.Context, list string) ([]string, error) {
	return c.names(ctx, FnNameListQuery, list, 64)
}
