package smapi

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Host query functions: what the original connector's smtLayer getHost.py
// asks to describe the z/VM system (GET /host).
const (
	FnSystemProcessorQuery       = "System_Processor_Query"
	FnSystemInformationQuery     = "System_Information_Query"
	FnSystemPerformanceInfoQuery = "System_Performance_Information_Query"
	FnImageVolumeSpaceQueryDM    = "Image_Volume_Space_Query_DM"
)

// Processor is one entry of System_Processor_Query: "0000 MASTER-PROCESSOR
// CP 0000" (address, status, type, core id).
type Processor struct {
	Address, Status, Type, CoreID string
}

// Processors is System_Processor_Query's output.
type Processors struct {
	PartitionMode string // "Z/VM", "LINUX", ...
	List          []Processor
}

// Counts returns what getHost.py's getCPUCount counts: total is the CP
// and IFL processors, used those MASTER, ALTERNATE or PARKED (not
// STANDBY or offline).
func (p Processors) Counts() (total, used int) {
	for _, c := range p.List {
		if c.Type == "CP" || c.Type == "IFL" {
			total++
		}
		if strings.Contains(c.Status, "MASTER") || c.Status == "ALTERNATE" || c.Status == "PARKED" {
			used++
		}
	}
	return total, used
}

// SystemProcessorQuery lists the LPAR's processors. Output layout
// (vmapiSystem.h System_Processor_Query_Layout): the partition mode as an
// int32-length string, then an array of int32-length strings, one per
// processor.
func (c *Client) SystemProcessorQuery(ctx context.Context) (Processors, error) {
	resp, err := c.Call(ctx, FnSystemProcessorQuery, hostTarget, nil)
	if err != nil {
		return Processors{}, err
	}
	return DecodeProcessors(resp.Data)
}

// DecodeProcessors parses System_Processor_Query's output data.
func DecodeProcessors(b []byte) (Processors, error) {
	r := NewParamReader(b)
	mode, err := r.String()
	if err != nil {
		return Processors{}, fmt.Errorf("SMAPI %s: partition mode: %w", FnSystemProcessorQuery, err)
	}
	recs, err := r.Array()
	if err != nil {
		return Processors{}, fmt.Errorf("SMAPI %s: processor array: %w", FnSystemProcessorQuery, err)
	}
	out := Processors{PartitionMode: mode}
	for i, rec := range recs {
		f := strings.Fields(rec)
		if len(f) < 3 {
			return Processors{}, fmt.Errorf("SMAPI %s: processor %d %q: want \"<address> <status> <type> [core]\"", FnSystemProcessorQuery, i+1, rec)
		}
		p := Processor{Address: f[0], Status: f[1], Type: f[2]}
		if len(f) > 3 {
			p.CoreID = f[3]
		}
		out.List = append(out.List, p)
	}
	return out, nil
}

// hostTarget is the target getHost.py passes (-T dummy): the host
// queries ignore it, authorization only needs a name.
const hostTarget = "DUMMY"

// SystemInformationQuery returns CP's system information: NUL-terminated
// lines of blank-separated KEY=value tokens. Output layout
// (System_Information_Query_Layout): one int32-length character buffer.
func (c *Client) SystemInformationQuery(ctx context.Context) (KeyValues, error) {
	resp, err := c.Call(ctx, FnSystemInformationQuery, hostTarget, nil)
	if err != nil {
		return nil, err
	}
	return decodeInfoBuffer(FnSystemInformationQuery, resp.Data)
}

// SystemPerformanceInfoQuery returns CP's performance figures (the same
// buffer layout as SystemInformationQuery); keywords as getHost.py sends
// them: "detailed_cpu=show=no".
func (c *Client) SystemPerformanceInfoQuery(ctx context.Context, kv ...string) (KeyValues, error) {
	var p Params
	p.Keywords(kv...)
	resp, err := c.Call(ctx, FnSystemPerformanceInfoQuery, hostTarget, p.Bytes())
	if err != nil {
		return nil, err
	}
	return decodeInfoBuffer(FnSystemPerformanceInfoQuery, resp.Data)
}

// KeyValues are the KEY=value tokens of an information buffer. A token
// with several "=" (STORAGE=ONLINE=64G) keeps everything after the first.
type KeyValues map[string]string

// InfoBuffer builds the character buffer of the information queries from
// lines (the simulator's side of decodeInfoBuffer).
func InfoBuffer(lines ...string) []byte {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
		buf.WriteByte(0)
	}
	var p Params
	p.String(buf.String())
	return p.Bytes()
}

func decodeInfoBuffer(fn string, b []byte) (KeyValues, error) {
	s, err := NewParamReader(b).String()
	if err != nil {
		return nil, fmt.Errorf("SMAPI %s: information buffer: %w", fn, err)
	}
	kv := KeyValues{}
	for _, line := range strings.Split(s, "\x00") {
		for _, tok := range strings.Fields(line) {
			k, v, ok := strings.Cut(tok, "=")
			if !ok || k == "" {
				continue // free text between the tokens
			}
			if _, dup := kv[k]; !dup {
				kv[k] = v
			}
		}
	}
	return kv, nil
}

// Volume space query types and entry types of Image_Volume_Space_Query_DM.
const (
	VolQueryDefinition byte = 1
	VolQueryFree       byte = 2
	VolQueryUsed       byte = 3
	VolEntryVolume     byte = 1
	VolEntryRegion     byte = 2
	VolEntryGroup      byte = 3
)

// Extent is one record of Image_Volume_Space_Query_DM: a volume's extent
// ("VOL001 3390-09 0001 10016 POOL1": volume, device type, start, size in
// the device's units, group).
type Extent struct {
	Volume, DevType string
	Start, Size     int64
	Group           string
}

// Bytes is the extent's size as getHost.py's _getDiskSize counts it: 3390
// cylinders of 737280 bytes, 9336 blocks of 512; an unknown type is FBA
// above 130000 units, else CKD.
func (e Extent) Bytes() int64 {
	switch {
	case strings.HasPrefix(e.DevType, "3390"):
		return e.Size * 737280
	case strings.HasPrefix(e.DevType, "9336"):
		return e.Size * 512
	case e.Size > 130000:
		return e.Size * 512
	}
	return e.Size * 737280
}

// ImageVolumeSpaceQueryDM asks DirMaint for the free or used extents of
// the named groups (entry type VolEntryGroup). Parameters
// (vmapiImageVolumeSpaceQueryDm.c): query type and entry type as one byte
// each, then the blank-separated entry names as an int32-length string;
// the output is an array of records, as Image_Query_DM's.
func (c *Client) ImageVolumeSpaceQueryDM(ctx context.Context, queryType, entryType byte, names ...string) ([]Extent, error) {
	var p Params
	p.Byte(queryType).Byte(entryType).String(strings.Join(names, " "))
	resp, err := c.Call(ctx, FnImageVolumeSpaceQueryDM, hostTarget, p.Bytes())
	if err != nil {
		return nil, err
	}
	recs, err := NewParamReader(resp.Data).Array()
	if err != nil {
		return nil, fmt.Errorf("SMAPI %s: output: %w", FnImageVolumeSpaceQueryDM, err)
	}
	out := make([]Extent, 0, len(recs))
	for i, rec := range recs {
		e, err := ParseExtent(rec)
		if err != nil {
			return nil, fmt.Errorf("SMAPI %s: record %d: %w", FnImageVolumeSpaceQueryDM, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ParseExtent reads one volume space record. Like getHost.py it takes the
// group from the 8th of 9 fields, else from the 5th.
func ParseExtent(rec string) (Extent, error) {
	f := strings.Fields(rec)
	if len(f) < 5 {
		return Extent{}, fmt.Errorf("%q: want \"<volume> <type> <start> <size> <group>\"", rec)
	}
	var e Extent
	e.Volume, e.DevType, e.Group = f[0], f[1], f[4]
	if len(f) == 9 {
		e.Group = f[7]
	}
	var err error
	if e.Start, err = strconv.ParseInt(f[2], 10, 64); err != nil || e.Start < 0 {
		return Extent{}, fmt.Errorf("%q: start %q is not a number", rec, f[2])
	}
	if e.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil || e.Size < 0 {
		return Extent{}, fmt.Errorf("%q: size %q is not a number", rec, f[3])
	}
	return e, nil
}

// DecodeVolumeSpaceQuery parses Image_Volume_Space_Query_DM's parameters.
func DecodeVolumeSpaceQuery(b []byte) (queryType, entryType byte, names []string, err error) {
	r := NewParamReader(b)
	if queryType, err = r.Byte(); err != nil {
		return
	}
	if entryType, err = r.Byte(); err != nil {
		return
	}
	s, err := r.String()
	return queryType, entryType, strings.Fields(s), err
}
