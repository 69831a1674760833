package workflow

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Input limits. A workflow file is a few hundred lines; these bounds are far
// above that and keep the YAML parser (whose cost grows faster than linearly
// with the entries of one mapping and with nesting) within milliseconds on
// any input.
const (
	// MaxFileSize is the largest workflow or template file accepted.
	MaxFileSize = 256 << 10
	// MaxLines is the most lines a workflow file may have.
	MaxLines = 5000
	// maxIndent bounds how far a line may be indented (block nesting).
	maxIndent = 100
	// maxFlowDepth bounds nesting of [ ] and { } collections.
	maxFlowDepth = 32
)

// reader turns a goccy/go-yaml syntax tree into values, reporting every
// problem as a diagnostic with the node's position.
type reader struct {
	file  string
	diags []Diagnostic
}

// entry is one key: value pair of a mapping.
type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

func pos(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (r *reader) add(sev string, line, col int, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{File: r.file, Line: line, Col: col, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (r *reader) errAt(n ast.Node, format string, args ...any) {
	line, col := pos(n)
	r.add(SeverityError, line, col, format, args...)
}

func (r *reader) warnAt(n ast.Node, format string, args ...any) {
	line, col := pos(n)
	r.add(SeverityWarning, line, col, format, args...)
}

// prescan rejects input the YAML parser should never see: too large, not
// UTF-8, too many lines, or nested too deeply. It is linear in the input.
func (r *reader) prescan(data []byte) bool {
	if len(data) > MaxFileSize {
		r.add(SeverityError, 1, 1, "file is %d bytes, more than the %d allowed", len(data), MaxFileSize)
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		r.add(SeverityError, 1, 1, "file is empty")
		return false
	}
	if !utf8.Valid(data) {
		line, col := 1, 1
		for i := 0; i < len(data); {
			c, size := utf8.DecodeRune(data[i:])
			if c == utf8.RuneError && size <= 1 {
				break
			}
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
			i += size
		}
		r.add(SeverityError, line, col, "file is not valid UTF-8")
		return false
	}
	if n := bytes.Count(data, []byte{'\n'}); n > MaxLines {
		r.add(SeverityError, MaxLines+1, 1, "file has %d lines, more than the %d allowed", n, MaxLines)
		return false
	}
	depth := 0
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		if c := indentOf(line); c > maxIndent {
			r.add(SeverityError, i+1, 1, "line is nested too deeply (indented %d columns, at most %d allowed)", c, maxIndent)
			return false
		}
		// Brackets are counted outside quotes and comments; a stray one in
		// a string at worst raises the count by one, far below the limit.
		quote := byte(0)
	scan:
		for j, c := range line {
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#' && (j == 0 || line[j-1] == ' ' || line[j-1] == '\t'):
				break scan
			case c == '[' || c == '{':
				depth++
				if depth > maxFlowDepth {
					r.add(SeverityError, i+1, j+1, "collections nested more than %d levels deep", maxFlowDepth)
					return false
				}
			case c == ']' || c == '}':
				if depth > 0 {
					depth--
				}
			}
		}
	}
	return true
}

// indentOf returns the column where a line's content starts, counting the
// "- " and "? " indicators that open one nested block each.
func indentOf(line []byte) int {
	i := 0
	for i < len(line) {
		switch {
		case line[i] == ' ':
			i++
		case (line[i] == '-' || line[i] == '?') && i+1 < len(line) && line[i+1] == ' ':
			i += 2
		default:
			return i
		}
	}
	return i
}

var duplicateKey = regexp.MustCompile(`mapping key "(.*)" already defined at \[(\d+):\d+\]`)

// parseYAML parses data into its single document's root node, reporting
// syntax errors, duplicate keys and extra documents.
func (r *reader) parseYAML(data []byte) (root ast.Node) {
	defer func() {
		// The parser is third-party code fed untrusted bytes; whatever it
		// does, loading reports a diagnostic instead of crashing the service.
		if p := recover(); p != nil {
			r.add(SeverityError, 1, 1, "the file could not be parsed as YAML")
			root = nil
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		msg := err.Error()
		line, col := 1, 1
		if e, ok := err.(yaml.Error); ok {
			ye = e
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line, col = tk.Position.Line, tk.Position.Column
			}
		}
		if m := duplicateKey.FindStringSubmatch(msg); m != nil {
			r.add(SeverityError, line, col, "duplicate key %q (first at line %s)", m[1], m[2])
			return nil
		}
		if strings.Contains(msg, "'\t'") {
			msg = "a tab cannot indent YAML; use spaces"
		}
		r.add(SeverityError, line, col, "YAML syntax: %s", msg)
		return nil
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch {
	case len(docs) == 0:
		r.add(SeverityError, 1, 1, "file holds no workflow")
		return nil
	case len(docs) > 1:
		r.errAt(docs[1].Body, "file holds more than one YAML document; put each workflow in its own file")
		return nil
	}
	return docs[0].Body
}

// forbiddenVisitor collects the anchors, aliases, tags and merge keys of a
// tree.
type forbiddenVisitor struct {
	r     *reader
	count int
}

// Visit reports a forbidden node and goes on into its children.
func (v *forbiddenVisitor) Visit(n ast.Node) ast.Visitor {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode, *ast.TagNode, *ast.MergeKeyNode:
		if v.count < 20 {
			v.r.plain(n) // reports it
		}
		v.count++
	}
	return v
}

// forbidden reports every anchor, alias, tag and merge key anywhere in the
// tree, also under keys the format does not know, and says whether there
// was none. Anchors and aliases are refused before anything reads a value,
// so no alias is ever expanded.
func (r *reader) forbidden(root ast.Node) bool {
	v := &forbiddenVisitor{r: r}
	ast.Walk(v, root)
	if v.count > 20 {
		r.add(SeverityError, 0, 0, "%d more anchors, aliases or tags", v.count-20)
	}
	return v.count == 0
}

// plain unwraps a value, rejecting the YAML features a workflow file never
// needs and that make files hard to review: anchors, aliases (which also
// make "billion laughs" expansion possible), tags and merge keys.
func (r *reader) plain(n ast.Node) (ast.Node, bool) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		r.errAt(n, "anchors (&%s) are not allowed: write each value out", tokenValue(v.Name))
		return nil, false
	case *ast.AliasNode:
		r.errAt(n, "aliases (*%s) are not allowed: write each value out", tokenValue(v.Value))
		return nil, false
	case *ast.TagNode:
		r.errAt(n, "tags (%s) are not allowed; to start a value with !, put it in quotes", v.Start.Value)
		return nil, false
	case *ast.MergeKeyNode:
		r.errAt(n, "merge keys (<<) are not allowed: write each key out")
		return nil, false
	}
	return n, true
}

func tokenValue(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

// kindName describes a node for "expected X, found Y" messages.
func kindName(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.StringNode, *ast.LiteralNode:
		return "text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	default:
		return v.Type().String()
	}
}

// mapping returns the entries of a mapping node in file order.
func (r *reader) mapping(n ast.Node, at ast.Node, what string) ([]entry, bool) {
	n, ok := r.plain(n)
	if !ok {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		if n == nil {
			n = at
		}
		r.errAt(n, "%s must be a mapping of keys to values, found %s", what, kindName(n))
		return nil, false
	}
	out := make([]entry, 0, len(values))
	good := true
	for _, mv := range values {
		k, ok := r.plain(mv.Key)
		if !ok {
			good = false
			continue
		}
		s, isString := k.(*ast.StringNode)
		if !isString {
			r.errAt(mv.Key, "keys must be names, found %s", kindName(k))
			good = false
			continue
		}
		out = append(out, entry{key: s.Value, keyN: mv.Key, value: mv.Value})
	}
	return out, good
}

// object reads a mapping whose keys must all be among allowed, reporting
// unknown keys (with the nearest known key) and returning the entries by key.
func (r *reader) object(n ast.Node, at ast.Node, what string, allowed ...string) (map[string]entry, bool) {
	entries, ok := r.mapping(n, at, what)
	if entries == nil && !ok {
		return nil, false
	}
	out := make(map[string]entry, len(entries))
	for _, e := range entries {
		known := false
		for _, a := range allowed {
			if a == e.key {
				known = true
				break
			}
		}
		if !known {
			r.errAt(e.keyN, "unknown key %q in %s%s", e.key, what, suggest(e.key, allowed))
			ok = false
			continue
		}
		out[e.key] = e
	}
	return out, ok
}

// require reports each of keys missing from m.
func (r *reader) require(m map[string]entry, at ast.Node, what string, keys ...string) bool {
	ok := true
	for _, k := range keys {
		if _, found := m[k]; !found {
			r.errAt(at, "%s needs %q", what, k)
			ok = false
		}
	}
	return ok
}

// text reads a string value (plain, quoted or a block scalar).
func (r *reader) text(e entry, what string) (string, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return "", false
	}
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		r.errAt(n, "%s must be text, found %s; put it in quotes if it is meant as text", what, kindName(n))
		return "", false
	}
	r.errAt(orKey(n, e), "%s must be text, found %s", what, kindName(n))
	return "", false
}

// name reads a plain identifier such as a state, field or template name.
func (r *reader) name(n ast.Node, at ast.Node, what string) (string, bool) {
	n, ok := r.plain(n)
	if !ok {
		return "", false
	}
	s, isString := n.(*ast.StringNode)
	if !isString {
		if n == nil {
			n = at
		}
		r.errAt(n, "%s must be a name, found %s", what, kindName(n))
		return "", false
	}
	if !validName(s.Value) {
		r.errAt(n, "%s %q is not a valid name: use lower-case letters, digits and _ (starting with a letter, at most 64 characters)", what, s.Value)
		return "", false
	}
	return s.Value, true
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// names reads a list of names; a single name is accepted when single is set
// (as in `from: draft`).
func (r *reader) names(e entry, what string, single bool) ([]string, []ast.Node, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return nil, nil, false
	}
	if s, isString := n.(*ast.StringNode); isString && single {
		v, ok := r.name(s, e.keyN, what)
		if !ok {
			return nil, nil, false
		}
		return []string{v}, []ast.Node{s}, true
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		r.errAt(orKey(n, e), "%s must be a list of names, found %s", what, kindName(n))
		return nil, nil, false
	}
	out := make([]string, 0, len(seq.Values))
	nodes := make([]ast.Node, 0, len(seq.Values))
	good := true
	for _, item := range seq.Values {
		v, ok := r.name(item, e.keyN, what)
		if !ok {
			good = false
			continue
		}
		out = append(out, v)
		nodes = append(nodes, item)
	}
	return out, nodes, good
}

// list returns the items of a sequence value.
func (r *reader) list(e entry, what string) ([]ast.Node, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return nil, false
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		r.errAt(orKey(n, e), "%s must be a list, found %s", what, kindName(n))
		return nil, false
	}
	return seq.Values, true
}

// integer reads an integer within [lo, hi].
func (r *reader) integer(e entry, what string, lo, hi int64) (int64, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return 0, false
	}
	iv, isInt := n.(*ast.IntegerNode)
	if !isInt {
		r.errAt(orKey(n, e), "%s must be a whole number, found %s", what, kindName(n))
		return 0, false
	}
	var v int64
	switch x := iv.Value.(type) {
	case int64:
		v = x
	case uint64:
		if x > math.MaxInt64 {
			v = math.MaxInt64
		} else {
			v = int64(x)
		}
	case int:
		v = int64(x)
	default:
		r.errAt(n, "%s must be a whole number", what)
		return 0, false
	}
	if v < lo || v > hi {
		r.errAt(n, "%s must be between %d and %d, found %d", what, lo, hi, v)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (r *reader) boolean(e entry, what string) (bool, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return false, false
	}
	b, isBool := n.(*ast.BoolNode)
	if !isBool {
		r.errAt(orKey(n, e), "%s must be true or false, found %s", what, kindName(n))
		return false, false
	}
	return b.Value, true
}

// duration reads a duration such as "72h", "14d" or "1d12h".
func (r *reader) duration(e entry, what string) (time.Duration, bool) {
	n, ok := r.plain(e.value)
	if !ok {
		return 0, false
	}
	s, isString := n.(*ast.StringNode)
	if !isString {
		if _, isInt := n.(*ast.IntegerNode); isInt {
			r.errAt(n, "%s needs a unit, such as 72h or 14d", what)
			return 0, false
		}
		r.errAt(orKey(n, e), "%s must be a duration such as 72h or 14d, found %s", what, kindName(n))
		return 0, false
	}
	d, err := parseDuration(s.Value)
	if err != nil {
		r.errAt(n, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

// orKey returns n, or the entry's key node when the value is missing (a
// null value has no useful position of its own).
func orKey(n ast.Node, e entry) ast.Node {
	if n == nil {
		return e.keyN
	}
	if _, isNull := n.(*ast.NullNode); isNull {
		if l, _ := pos(n); l == 0 {
			return e.keyN
		}
	}
	return n
}

// exprPos returns where the text of a scalar starts, for mapping positions
// inside a CEL expression back to the file: the line and column of its
// first character, and whether positions inside it map one to one (a
// single-line plain or quoted scalar).
func exprPos(n ast.Node) (line, col int, exact bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		line, col = pos(v)
		tk := v.GetToken()
		if tk == nil {
			return line, col, false
		}
		switch tk.Type {
		case token.DoubleQuoteType, token.SingleQuoteType:
			// The token's column is at the opening quote.
			return line, col + 1, !strings.Contains(v.Value, "\n") && !strings.ContainsAny(tk.Origin, "\\")
		}
		return line, col, !strings.Contains(v.Value, "\n")
	case *ast.LiteralNode:
		line, col = pos(v)
		return line + 1, 0, false
	}
	line, col = pos(n)
	return line, col, false
}
