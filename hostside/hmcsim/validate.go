package hmcsim

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Reason for a field value of the wrong JSON type or out of range.
// guess: the reference names no code for this; the zhmcclient mock uses
// 400/7 for an invalid value (e.g. Set CPC Power Saving), so 400/7 is
// used for every type or range error.
const reasonBadValue = 7

type kind int

const (
	kStr kind = iota
	kStrNull
	kInt
	kIntNull
	kBool
)

type field struct {
	k              kind
	create, update bool
}

// normalize checks the request's fields against specs and returns them
// with JSON numbers turned into int64. Unknown or non-writable fields
// are 400/6 with the real HMC's message.
func normalize(in map[string]any, specs map[string]field, create bool) (map[string]any, *apiError) {
	out := make(map[string]any, len(in))
	for k, v := range in {
		f, ok := specs[k]
		if !ok || (create && !f.create) || (!create && !f.update) {
			return nil, errf(400, 6, "The JSON object contains an unrecognized field ('%s')", k)
		}
		nv, good := convert(f.k, v)
		if !good {
			return nil, errf(400, reasonBadValue, "The value of field '%s' has the wrong type", k)
		}
		out[k] = nv
	}
	return out, nil
}

func convert(k kind, v any) (any, bool) {
	if v == nil {
		return nil, k == kStrNull || k == kIntNull
	}
	switch k {
	case kStr, kStrNull:
		s, ok := v.(string)
		return s, ok
	case kInt, kIntNull:
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		i, err := n.Int64()
		return i, err == nil
	case kBool:
		b, ok := v.(bool)
		return b, ok
	}
	return nil, false
}

func badValue(field, why string) *apiError {
	return errf(400, reasonBadValue, "The value of field '%s' is not valid: %s", field, why)
}

var partitionFields = map[string]field{
	"name":                        {kStr, true, true},
	"description":                 {kStr, true, true},
	"type":                        {kStr, true, false},
	"short-name":                  {kStr, true, true},
	"partition-id":                {kStr, true, true},
	"autogenerate-partition-id":   {kBool, true, true},
	"reserve-resources":           {kBool, true, true},
	"processor-mode":              {kStr, true, true},
	"ifl-processors":              {kInt, true, true},
	"cp-processors":               {kInt, true, true},
	"initial-memory":              {kInt, true, true},
	"maximum-memory":              {kInt, true, true},
	"boot-device":                 {kStr, true, true},
	"boot-timeout":                {kInt, true, true},
	"boot-os-specific-parameters": {kStr, false, true},
	"boot-storage-device":         {kStrNull, false, true},
	"boot-world-wide-port-name":   {kStr, false, true},
	"boot-logical-unit-number":    {kStr, false, true},
	"boot-network-device":         {kStrNull, false, true},
	"boot-storage-volume":         {kStrNull, false, true},
	"boot-load-parameters":        {kStr, false, true},
	"boot-configuration-selector": {kInt, false, true},
}

var nicFields = map[string]field{
	"name":                     {kStr, true, true},
	"description":              {kStr, true, true},
	"virtual-switch-uri":       {kStr, true, false},
	"network-adapter-port-uri": {kStr, true, false},
	"device-number":            {kStr, true, true},
	"vlan-id":                  {kIntNull, true, true},
	"vlan-type":                {kStrNull, true, true},
	"mac-address":              {kStr, true, true},
}

var hbaFields = map[string]field{
	"name":             {kStr, true, true},
	"description":      {kStr, true, true},
	"adapter-port-uri": {kStr, true, false},
	"device-number":    {kStr, true, true},
}

// MaxBootOSSpecificParameters is the HMC's limit on the partition
// property boot-os-specific-parameters.
const MaxBootOSSpecificParameters = 256

var (
	reMAC       = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	reHex16     = regexp.MustCompile(`^[0-9a-fA-F]{1,16}$`)
	reShortName = regexp.MustCompile(`^[A-Z0-9]{1,8}$`)
)

func checkName(v any) *apiError {
	n, _ := v.(string)
	if len(n) < 1 || len(n) > 64 {
		return badValue("name", "must be 1 to 64 characters")
	}
	return nil
}

// checkPartitionValues validates the values (not their presence).
func checkPartitionValues(m map[string]any, c *cpc) *apiError {
	for k, v := range m {
		switch k {
		case "name":
			if e := checkName(v); e != nil {
				return e
			}
		case "description":
			if len(v.(string)) > 1024 {
				return badValue(k, "longer than 1024 characters")
			}
		case "type":
			switch v {
			case "linux", "ssc", "zaas":
			default:
				return badValue(k, "must be linux, ssc or zaas")
			}
		case "short-name":
			if !reShortName.MatchString(v.(string)) {
				return badValue(k, "must be 1 to 8 upper-case letters or digits")
			}
		case "processor-mode":
			if v != "shared" && v != "dedicated" {
				return badValue(k, "must be shared or dedicated")
			}
		case "ifl-processors", "cp-processors":
			if n := v.(int64); n < 0 || n > int64(c.ProcessorCountIFL) {
				return badValue(k, "out of range") // guess: checked against the CPC's count
			}
		case "initial-memory", "maximum-memory":
			if n := v.(int64); n < 1 || n > int64(c.StorageCustomer) {
				return badValue(k, "out of range")
			}
		case "boot-device":
			switch v {
			case "none", "storage-adapter", "storage-volume", "network-adapter", "ftp", "removable-media", "iso-image":
			default:
				return badValue(k, "unknown boot device")
			}
		case "boot-timeout":
			if n := v.(int64); n < 60 || n > 600 {
				return badValue(k, "must be 60 to 600")
			}
		case "boot-os-specific-parameters":
			if len(v.(string)) > MaxBootOSSpecificParameters {
				return badValue(k, "longer than 256 characters")
			}
		case "boot-world-wide-port-name", "boot-logical-unit-number":
			if s := v.(string); s != "" && !reHex16.MatchString(strings.TrimPrefix(s, "0x")) {
				return badValue(k, "must be up to 16 hexadecimal digits")
			}
		case "boot-load-parameters":
			if len(v.(string)) > 8 {
				return badValue(k, "longer than 8 characters")
			}
		}
	}
	return nil
}
