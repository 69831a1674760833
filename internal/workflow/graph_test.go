package workflow

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGraphGolden compares the graphs of the shipped workflows with the
// golden files; run with -update to accept a change.
func TestGraphGolden(t *testing.T) {
	for _, id := range shippedIDs {
		for _, format := range []string{FormatMermaid, FormatDOT} {
			t.Run(id+"."+format, func(t *testing.T) {
				got, err := mustShipped(t, id).Graph(format)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", id+"."+format)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", path, got)
				}
			})
		}
	}
}

func TestGraphContent(t *testing.T) {
	mag := mustShipped(t, "mag")
	tests := []struct {
		format string
		want   []string
	}{
		{FormatMermaid, []string{
			"stateDiagram-v2\n",
			"    [*] --> draft\n",
			"    draft --> submitted : submit (owner)\n",
			"    panel_review --> draft : return_for_changes (changes requested)\n",
			"    panel_review --> secretariat_review : close_review (secretariat, timer overdue)\n",
			"    appointed --> [*]\n",
		}},
		{FormatDOT, []string{
			"digraph \"mag\" {\n",
			"    \"__start\" -> \"draft\";\n",
			"    \"submitted\" -> \"rejected\" [label=\"reject (secretariat)\"];\n",
			"    \"panel_review\" -> \"secretariat_review\" [label=\"recommend (review passes)\", style=dashed];\n",
			"    \"appointed\" [label=\"appointed\\ncreates a membership\", peripheries=2];\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			got, err := mag.Graph(tt.format)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("graph lacks %q:\n%s", w, got)
				}
			}
		})
	}
	if _, err := mag.Graph("svg"); err == nil {
		t.Error("Graph(svg) succeeded")
	}
}

func TestDOTQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{"a\nb", `"a\nb"`},
		{`back\slash`, `"back\\slash"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := dotQuote(tt.in); got != tt.want {
				t.Errorf("dotQuote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
