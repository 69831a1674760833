package main

import (
	"strings"
	"testing"
)

// The instances' own count of 5xx answers is held against what the
// clients received: a failure answered to nobody fails the check, a
// request its client abandoned (499) does not.
func TestServerFailuresAgainstWhatClientsReceived(t *testing.T) {
	records := []record{{Status: 200, Instance: 0}, {Status: 503, Instance: 1}, {Status: 0, Instance: 1, Cut: true}}
	for _, tc := range []struct {
		name   string
		served []map[string]float64
		ok     bool
		naming string
	}{
		{"as received", []map[string]float64{{"200": 1}, {"503": 1, "499": 1}}, true, "1 request(s) closed by their client"},
		{"a 503 nobody received", []map[string]float64{{"200": 1}, {"503": 2}}, false, "instance 2 recorded 2 answers 5xx, its clients received 1"},
		{"a 500 nobody received", []map[string]float64{{"200": 1, "500": 1}, {"503": 1}}, false, "instance 1 recorded 1 answers 5xx, its clients received 0"},
		{"metrics unknown", []map[string]float64{nil, {"503": 1}}, true, "no metrics from instance(s) 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := (&checker{in: checkInput{Records: records, Served: tc.served}}).serverFailures()
			if c.OK != tc.ok {
				t.Fatalf("ok %v, want %v: %+v", c.OK, tc.ok, c)
			}
			if !strings.Contains(c.Note+strings.Join(c.Faults, "; "), tc.naming) {
				t.Fatalf("the check does not say %q: %+v", tc.naming, c)
			}
		})
	}
}
