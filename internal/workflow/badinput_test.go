package workflow

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// billionLaughs nests aliases so that expanding them would build 10^levels
// strings.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString(`a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestBadInput feeds hostile files to Parse: each must be refused with a
// diagnostic, allocating a bounded amount of memory.
func TestBadInput(t *testing.T) {
	var manyKeys strings.Builder
	for i := 0; manyKeys.Len() < MaxFileSize-100; i++ {
		fmt.Fprintf(&manyKeys, "k%d: v\n", i)
	}
	var wideFlow strings.Builder
	wideFlow.WriteString("id: {")
	for i := 0; wideFlow.Len() < MaxFileSize-100; i++ {
		fmt.Fprintf(&wideFlow, "k%d: [a, {b: c}], ", i)
	}
	wideFlow.WriteString("}\n")
	cel := func(rule string) string {
		return edit(t, "      - rule: now <= call.closes_at", "      - rule: "+rule)
	}
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"billion laughs", billionLaughs(9), "anchors (&a0) are not allowed"},
		{"alias inside the workflow", edit(t, "roles: [owner, secretariat]", "roles: &r [owner, secretariat]\npanels2: *r"), "are not allowed"},
		{"huge file", baseYAML + "# " + strings.Repeat("x", MaxFileSize) + "\n", "more than the 262144 allowed"},
		{"too many lines", baseYAML + strings.Repeat("#\n", MaxLines), "more than the 5000 allowed"},
		{"many keys in one mapping", manyKeys.String(), "more than the 5000 allowed"},
		{"wide flow mapping", wideFlow.String(), "id must be text"},
		{"deep flow nesting", "id: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "nested more than 32 levels deep"},
		{"deep flow mappings", "id: " + strings.Repeat("{a: ", 50000) + "1" + strings.Repeat("}", 50000), "nested more than 32 levels deep"},
		{"deep block sequences", "id:\n" + strings.Repeat("- ", 50000) + "x\n", "nested too deeply"},
		{"deep indentation", func() string {
			var b strings.Builder
			for i := 0; i < 300; i++ {
				b.WriteString(strings.Repeat(" ", i) + "a:\n")
			}
			return b.String()
		}(), "nested too deeply"},
		{"non-UTF-8", "id: \xc3\x28\n", "not valid UTF-8"},
		{"UTF-16", "\xff\xfei\x00d\x00:\x00", "not valid UTF-8"},
		{"NUL bytes", "id: demo\x00\n", ""},
		{"duplicate keys deep inside", edit(t, "    editable: true", "    editable: true\n    editable: false"), "duplicate key"},
		{"a macro that loops", cel("[1, 2, 3].all(x, [1, 2, 3].all(y, x + y > endorsements))"), "all"},
		{"a list that grows", cel("size([1, 2] + [3, 4] + [5]) > 1 && now < call.closes_at"), ""},
		{"a string that grows", cel(strings.TrimSuffix(strings.Repeat("fields.motivation + ", 12), " + ") + " == ''"), "too costly"},
		// RE2 matching is linear; the rule is allowed and bounded.
		{"a regular expression over a long text", cel("fields.motivation.matches('(a|b)*c(a|b)*c(a|b)*c(a|b)*c')"), ""},
		{"deeply nested expression", cel(strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200)), "guard 1"},
		{"long expression", cel(strings.Repeat("1 + ", 400) + "1 > 0"), "more than the 1000 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, diags := Parse("bad.yaml", []byte(tt.src), testTemplates)
			runtime.ReadMemStats(&after)
			if tt.want == "" {
				// Only boundedness is checked; the input may be valid.
				if d == nil && !HasErrors(diags) {
					t.Fatalf("no definition and no error")
				}
			} else {
				if d != nil {
					t.Fatalf("hostile input loaded")
				}
				found := false
				for _, dg := range diags {
					found = found || dg.Severity == SeverityError && strings.Contains(dg.Message, tt.want)
				}
				if !found {
					t.Errorf("no error containing %q; got:\n%s", tt.want, diagLines(diags))
				}
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
				t.Errorf("parsing allocated %d MiB", alloc>>20)
			}
		})
	}
}

// TestLoadHugeFile checks that LoadFile refuses a file over the size limit
// without reading it whole.
func TestLoadHugeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("# " + strings.Repeat("x", 1021) + "\n")
	for i := 0; i < 64<<10; i++ { // 64 MiB
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, diags, err := LoadFile(path)
	runtime.ReadMemStats(&after)
	if d != nil || err == nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than the 262144 bytes allowed") {
		t.Fatalf("LoadFile = %v, %v, %v", d != nil, diags, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("LoadFile allocated %d MiB for a file it refuses", alloc>>20)
	}
}

func TestByteOrderMark(t *testing.T) {
	d, diags := Parse("bom.yaml", []byte("\ufeff"+baseYAML), testTemplates)
	if d == nil {
		t.Fatalf("a file starting with a byte-order mark was refused: %v", diags)
	}
}
