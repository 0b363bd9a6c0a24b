package zkernel

// defaultSysinfo is /proc/sysinfo of an LPAR without z/VM.
// guess: field layout after arch/s390/kernel/sysinfo.c (stsi 1.1.1, 2.2.2);
// the values are invented.
const defaultSysinfo = `Manufacturer:         IBM
Type:                 3931
Model Capacity:       705              00000000
Sequence Code:        00000000000ABCDE
Plant:                02
Model:                A01              LA1
Capacity Adj. Ind.:   100
Capacity Ch. Reason:  0
Capacity Transient:   0
Type 1 Percentage:    0
Type 2 Percentage:    0
Type 3 Percentage:    0
Type 4 Percentage:    0
Type 5 Percentage:    0

CPUs Total:           16
CPUs Configured:      16
CPUs Standby:         0
CPUs Reserved:        0
CPUs G-MTID:          0
CPUs S-MTID:          1
Capability:           3472
Nominal Capability:   3472
Secondary Capability: 416
Adjustment 02-way:    62750
Adjustment 03-way:    61200

LPAR Number:          2
LPAR Characteristics: Shared
LPAR Name:            LP02
LPAR Adjustment:      250
LPAR CPUs Total:      4
LPAR CPUs Configured: 4
LPAR CPUs Standby:    0
LPAR CPUs Reserved:   0
LPAR CPUs Dedicated:  0
LPAR CPUs Shared:     4
LPAR CPUs G-MTID:     0
LPAR CPUs S-MTID:     1
LPAR CPUs PS-MTID:    1
`

func (k *Kernel) sysinfo() string {
	if k.cfg.Sysinfo == "" {
		return defaultSysinfo
	}
	return k.cfg.Sysinfo
}
