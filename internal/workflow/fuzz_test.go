package workflow

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// must return either a complete definition (no error diagnostic) or none
// (with at least one error) — never a partly loaded one.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{filepath.Join(shippedDir, "*.yaml"), filepath.Join("testdata", "broken", "*.yaml")} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(baseYAML))
	f.Add([]byte(fieldsYAML))
	f.Add([]byte("a: &a [1]\nb: *a\n"))
	f.Add([]byte("id: x\n---\nid: y\n"))
	f.Add([]byte("{[}]"))
	f.Add([]byte("? a\n: b\n"))
	f.Add([]byte("id: !!binary aGk=\n"))
	f.Add([]byte("- - - - x\n"))
	f.Add([]byte("x: |\n  a\n b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, diags := Parse("fuzz.yaml", data, testTemplates)
		hasErr := HasErrors(diags)
		if d == nil && !hasErr {
			t.Fatalf("no definition and no error: %v", diags)
		}
		if d != nil {
			if hasErr {
				t.Fatalf("definition returned despite errors: %v", diags)
			}
			checkWhole(t, d)
		}
		for _, dg := range diags {
			if dg.File != "fuzz.yaml" || dg.Message == "" || (dg.Severity != SeverityError && dg.Severity != SeverityWarning) {
				t.Fatalf("malformed diagnostic %+v", dg)
			}
		}
	})
}

// checkWhole asserts a loaded definition is complete and usable.
func checkWhole(t *testing.T, d *Definition) {
	t.Helper()
	if d.ID == "" || d.Version < 1 || d.Title == "" || d.Hash == "" {
		t.Fatalf("definition lacks its identity: %q %d %q", d.ID, d.Version, d.Title)
	}
	if _, ok := d.States[d.Initial]; !ok {
		t.Fatalf("initial state %q undefined", d.Initial)
	}
	for _, a := range d.Actions {
		if _, ok := d.States[a.To]; !ok || len(a.From) == 0 || len(a.Roles) == 0 {
			t.Fatalf("action %+v incomplete", a)
		}
		for _, g := range a.Guards {
			if g.expr == nil {
				t.Fatalf("guard %q not compiled", g.Rule)
			}
		}
	}
	for _, name := range d.StateOrder {
		st := d.States[name]
		if rv := st.Review; rv != nil && (rv.passIf == nil || (rv.FailIf != "" && rv.failIf == nil)) {
			t.Fatalf("review of %s not compiled", name)
		}
		for _, tm := range st.Timers {
			if tm.at == nil {
				t.Fatalf("timer %s not compiled", tm.Name)
			}
		}
		s := Subject{State: name, Fields: map[string]any{}, Tally: Tally{Eligible: 3, Approve: 2}}
		for _, a := range []Actor{owner, secretariat, reviewer} {
			d.Available(s, a, envNow)
		}
		_, _ = d.Decide(s, envNow)
	}
	for _, format := range []string{FormatMermaid, FormatDOT} {
		if _, err := d.Graph(format); err != nil {
			t.Fatal(err)
		}
	}
}
