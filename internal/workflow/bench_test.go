package workflow

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEvaluateMAG measures one evaluation on the MAG workflow: the
// actions the owner may take on a complete draft, then firing submit.
func BenchmarkEvaluateMAG(b *testing.B) {
	mag := mustShipped(b, "mag")
	s := completeMAG("draft")
	b.ReportAllocs()
	for b.Loop() {
		st := mag.Available(s, owner, envNow)
		if len(st) != 2 || !st[0].Allowed {
			b.Fatalf("Available = %+v", st)
		}
		if _, err := mag.Fire(s, owner, "submit", Input{}, envNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideMAG measures a vote decision on the MAG panel review.
func BenchmarkDecideMAG(b *testing.B) {
	mag := mustShipped(b, "mag")
	s := completeMAG("panel_review")
	s.Tally = Tally{Eligible: 3, Approve: 2, Reject: 1}
	b.ReportAllocs()
	for b.Loop() {
		if out, err := mag.Decide(s, envNow); err != nil || out == nil {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkLoadShipped measures loading every shipped workflow with its
// templates, as the service does at start.
func BenchmarkLoadShipped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := LoadDir(shippedDir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMAG measures parsing and validating mag.yaml alone.
func BenchmarkParseMAG(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(shippedDir, "mag.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	templates := mustShippedTemplates(b)
	b.ReportAllocs()
	for b.Loop() {
		if d, diags := Parse("mag.yaml", data, templates); d == nil {
			b.Fatal(diags)
		}
	}
}
