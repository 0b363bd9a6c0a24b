package main

import (
	"fmt"
	"time"

	"github.com/zguest/zguest/hostside/api"
)

// opTimeoutOptions is backend_options.timeouts of the kvm and dpm
// backends: durations like "30m" per operation kind; empty takes the
// default (import 1h, deploy 1h, create 10m, power 10m).
type opTimeoutOptions struct {
	Import string `json:"import"`
	Deploy string `json:"deploy"`
	Create string `json:"create"`
	Power  string `json:"power"`
}

func (o opTimeoutOptions) parse() (api.OpTimeouts, error) {
	var t api.OpTimeouts
	for _, f := range []struct {
		name, s string
		d       *time.Duration
	}{{"import", o.Import, &t.Import}, {"deploy", o.Deploy, &t.Deploy}, {"create", o.Create, &t.Create}, {"power", o.Power, &t.Power}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil || d <= 0 {
			return t, fmt.Errorf("backend_options.timeouts.%s %q: want a positive duration like \"30m\"", f.name, f.s)
		}
		*f.d = d
	}
	return t, nil
}
