package workflow

import (
	"fmt"
	"strings"
)

// Graph formats.
const (
	FormatMermaid = "mermaid"
	FormatDOT     = "dot"
)

// Graph renders the definition's states and actions as a Mermaid state
// diagram (format "mermaid") or a Graphviz digraph ("dot"). The output is
// deterministic: states and actions in file order. It returns an error for
// any other format.
func (d *Definition) Graph(format string) (string, error) {
	switch format {
	case FormatMermaid:
		return d.mermaid(), nil
	case FormatDOT:
		return d.dot(), nil
	}
	return "", fmt.Errorf("unknown graph format %q: use %q or %q", format, FormatMermaid, FormatDOT)
}

// edgeLabel says what moves a nomination along an action: its name and who
// takes it, and for the engine's actions what triggers them.
func (d *Definition) edgeLabel(a *Action, from string) string {
	var who []string
	for _, r := range a.Roles {
		if r != RoleSystem {
			who = append(who, r)
		}
	}
	if st := d.States[from]; st != nil {
		if rv := st.Review; rv != nil {
			switch a.Name {
			case rv.OnPass:
				who = append(who, "review passes")
			case rv.OnFail:
				who = append(who, "review fails")
			case rv.OnRequestChanges:
				who = append(who, "changes requested")
			}
		}
		for _, t := range st.Timers {
			if t.Action == a.Name {
				who = append(who, "timer "+t.Name)
			}
		}
	}
	if len(who) == 0 {
		return a.Name
	}
	return a.Name + " (" + strings.Join(who, ", ") + ")"
}

// stateNotes describes what happens in a state, one line each.
func (d *Definition) stateNotes(st *State) []string {
	var notes []string
	if st.Editable {
		notes = append(notes, "editable by the owner")
	}
	if rv := st.Review; rv != nil {
		panel := rv.Panel
		if panel == "" {
			panel = "panel named by " + rv.PanelFromField
		}
		notes = append(notes, fmt.Sprintf("review by %s, due in %s", panel, formatDuration(rv.Due)))
		notes = append(notes, "votes "+strings.Join(rv.Options, ", "))
		if rv.Score != nil {
			notes = append(notes, fmt.Sprintf("scores %d to %d", rv.Score.Min, rv.Score.Max))
		}
		notes = append(notes, "passes when "+oneLine(rv.PassIf))
		if rv.FailIf != "" {
			notes = append(notes, "fails when "+oneLine(rv.FailIf))
		}
		if rv.ChangesIf != "" {
			notes = append(notes, "changes requested when "+oneLine(rv.ChangesIf))
		}
	}
	for _, t := range st.Timers {
		line := fmt.Sprintf("%s %s at %s", t.Kind, t.Name, oneLine(t.At))
		if t.Every > 0 {
			line += ", every " + formatDuration(t.Every)
		}
		notes = append(notes, line)
	}
	if st.CreatesMember {
		notes = append(notes, "creates a membership")
	}
	return notes
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (d *Definition) mermaid() string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s\n---\n", mermaidText(fmt.Sprintf("%s (%s)", d.Title, d.Key())))
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", d.Initial)
	for _, a := range d.Actions {
		for _, from := range a.From {
			fmt.Fprintf(&b, "    %s --> %s : %s\n", from, a.To, mermaidText(d.edgeLabel(a, from)))
		}
	}
	for _, name := range d.StateOrder {
		if d.States[name].Final {
			fmt.Fprintf(&b, "    %s --> [*]\n", name)
		}
	}
	for _, name := range d.StateOrder {
		notes := d.stateNotes(d.States[name])
		if len(notes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    note right of %s\n", name)
		for _, n := range notes {
			fmt.Fprintf(&b, "        %s\n", mermaidText(n))
		}
		b.WriteString("    end note\n")
	}
	return b.String()
}

// mermaidText keeps text from breaking Mermaid's line-oriented syntax.
func mermaidText(s string) string {
	r := strings.NewReplacer(";", ",", "\n", " ", "#", "no. ", ":", " -", "end note", "end-note")
	return r.Replace(oneLine(s))
}

func (d *Definition) dot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(d.ID))
	fmt.Fprintf(&b, "    label=%s;\n", dotQuote(fmt.Sprintf("%s (%s)", d.Title, d.Key())))
	b.WriteString("    labelloc=t;\n    rankdir=LR;\n")
	b.WriteString("    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n")
	b.WriteString("    edge [fontname=\"Helvetica\", fontsize=10];\n")
	b.WriteString("    \"__start\" [shape=point, label=\"\"];\n")
	for _, name := range d.StateOrder {
		st := d.States[name]
		label := strings.Join(append([]string{name}, d.stateNotes(st)...), "\n")
		attrs := "label=" + dotQuote(label)
		if st.Final {
			attrs += ", peripheries=2"
		}
		fmt.Fprintf(&b, "    %s [%s];\n", dotQuote(name), attrs)
	}
	fmt.Fprintf(&b, "    \"__start\" -> %s;\n", dotQuote(d.Initial))
	for _, a := range d.Actions {
		for _, from := range a.From {
			attrs := "label=" + dotQuote(d.edgeLabel(a, from))
			if len(a.Roles) == 1 && a.Roles[0] == RoleSystem {
				attrs += ", style=dashed"
			}
			fmt.Fprintf(&b, "    %s -> %s [%s];\n", dotQuote(from), dotQuote(a.To), attrs)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote returns s as a DOT quoted string; newlines become \n line breaks.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}
