package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Diagnostic is one problem found in a workflow or template file, located
// by file, line and column (both 1-based; 0 when unknown).
type Diagnostic struct {
	File     string
	Line     int
	Col      int
	Severity string
	Message  string
}

// String returns the diagnostic as "file:line:col: severity: message", the
// form editors and CI logs recognise.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Col > 0 {
			fmt.Fprintf(&b, ":%d", d.Col)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", d.Severity, d.Message)
	return b.String()
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// sortDiagnostics orders diagnostics by file, line and column, keeping the
// order of those found at the same place.
func sortDiagnostics(diags []Diagnostic) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// suggest returns ` (did you mean "x"?)` when one of known is close to
// name, so a typo names its fix; otherwise "".
func suggest(name string, known []string) string {
	best, bestDist := "", 0
	limit := 2
	if len(name) > 8 {
		limit = 3
	}
	for _, k := range known {
		if k == name {
			continue
		}
		d := editDistance(name, k, limit)
		if d > limit && len(name) >= 4 && (strings.HasPrefix(k, name) || strings.HasPrefix(name, k)) {
			// A name cut short ("stakeholder" for "stakeholder_group").
			d = limit
		}
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance returns the Levenshtein distance of a and b, or limit+1 as
// soon as it must exceed limit; names are short, so a row suffices.
func editDistance(a, b string, limit int) int {
	if len(a) > 64 || len(b) > 64 {
		return limit + 1
	}
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// quoteList renders names as `"a", "b" and "c"` for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "(none)"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
