package workflow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/google/cel-go/cel"

	"github.com/igf/nomina/internal/locale"
)

// Bounds on the size of a definition; far above any real process.
const (
	maxFields        = 100
	maxStates        = 100
	maxActions       = 200
	maxGuards        = 20
	maxTimers        = 10
	maxNotifications = 20
	maxChoices       = 300
)

// Defaults for field limits, by type.
var defaultMaxLen = map[string]int{
	TypeText:     200,
	TypeLongText: 10000,
	TypeEmail:    254,
	TypeCountry:  2,
	TypeDate:     10,
}

// Upper bounds for max_len, by type.
var capMaxLen = map[string]int{
	TypeText:     1000,
	TypeLongText: 50000,
	TypeEmail:    254,
}

const (
	defaultMaxBytes = 10 << 20
	capMaxBytes     = 100 << 20
	defaultMaxFiles = 1
	capMaxFiles     = 20
)

var (
	knownTypes      = []string{TypeChoice, TypeText, TypeLongText, TypeEmail, TypeCountry, TypeDate, TypeFile, TypeBool}
	knownRoles      = []string{RoleOwner, RoleCandidate, RoleReviewer, RoleSecretariat, RoleAdmin, RoleSystem}
	knownAudiences  = []string{AudienceCandidate, AudienceNominee, AudienceNominator, AudiencePanel, AudiencePendingReviewers, AudienceSecretariat, AudienceEndorser}
	knownOptions    = []string{VoteApprove, VoteReject, VoteRequestChanges, VoteRecuse}
	knownExclusions = []string{ExcludeSubmitter, ExcludeConflicts}
	knownInputs     = []string{InputReason, InputComment}
	knownTimerKinds = []string{TimerReminder, TimerEscalation}

	idPattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	mimePattern = regexp.MustCompile(`^[a-z]+/[a-z0-9][a-z0-9.+-]*$`)
)

// celReserved are words CEL reserves; a field named like one could not be
// written as fields.<name> in an expression.
var celReserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true, "false": true,
	"for": true, "function": true, "if": true, "import": true, "in": true, "let": true,
	"loop": true, "package": true, "namespace": true, "null": true, "return": true,
	"true": true, "var": true, "void": true, "while": true,
}

// Parse reads one workflow definition from data. file names it in
// diagnostics; templates is the set of template names notifications may use
// (nil: none). It returns the definition and its diagnostics (warnings
// included), or a nil definition when any diagnostic is an error: a file
// with an error never loads, even in part. Parse does no I/O and never
// panics.
func Parse(file string, data []byte, templates TemplateSet) (*Definition, []Diagnostic) {
	r := &reader{file: file}
	if !r.prescan(data) {
		return nil, r.diags
	}
	// A byte-order mark some editors add is not part of the YAML; the hash
	// still covers the file as written.
	root := r.parseYAML(bytes.TrimPrefix(data, []byte("\ufeff")))
	if root == nil || !r.forbidden(root) {
		return nil, r.diags
	}
	sum := sha256.Sum256(data)
	b := &builder{
		reader:    r,
		templates: templates,
		def: &Definition{
			File:        file,
			Hash:        hex.EncodeToString(sum[:]),
			Source:      append([]byte(nil), data...),
			States:      map[string]*State{},
			fieldIndex:  map[string]*Field{},
			actionIndex: map[string]*Action{},
			refs:        map[string]bool{},
			texts:       translations{},
		},
		fromNodes:  map[*Action][]ast.Node{},
		stateKeys:  map[string]ast.Node{},
		roleNodes:  map[string]ast.Node{},
		panelNodes: map[string]ast.Node{},
	}
	b.build(root)
	sortDiagnostics(r.diags)
	if HasErrors(r.diags) {
		return nil, r.diags
	}
	b.def.localize()
	return b.def, r.diags
}

// builder decodes and checks one definition.
type builder struct {
	*reader
	templates TemplateSet
	def       *Definition
	// fromNodes keeps where each action names its source states, and
	// stateKeys where each state is declared, for graph diagnostics.
	fromNodes map[*Action][]ast.Node
	stateKeys map[string]ast.Node
	// fired records the actions a review or timer fires.
	fired map[string]bool
	roles map[string]bool
	// roleNodes and panelNodes keep where roles and panels are declared.
	roleNodes, panelNodes map[string]ast.Node
}

func (b *builder) build(root ast.Node) {
	top, ok := b.object(root, root, "the workflow",
		"id", "version", "title", "description", "body", "terms", "fields", "roles", "panels", "initial", "states", "actions", "start", "languages")
	if top == nil && !ok {
		return
	}
	b.require(top, root, "the workflow", "id", "version", "title", "body", "roles", "initial", "states", "actions")
	d := b.def
	d.Languages = locale.Languages
	if e, ok := top["languages"]; ok {
		b.languages(e)
	}
	if e, ok := top["id"]; ok {
		if id, ok := b.text(e, "id"); ok {
			if !idPattern.MatchString(id) {
				b.errAt(e.value, "id %q is not valid: use lower-case letters, digits, - and _ (starting with a letter)", id)
			}
			d.ID = id
		}
	}
	if e, ok := top["version"]; ok {
		if v, ok := b.integer(e, "version", 1, 1_000_000); ok {
			d.Version = int(v)
		}
	}
	if e, ok := top["title"]; ok {
		if t, ok := b.translated(e, "title", "title"); ok {
			if strings.TrimSpace(t) == "" {
				b.errAt(orKey(e.value, e), "title is empty")
			}
			d.Title = strings.TrimSpace(t)
		}
	}
	if e, ok := top["description"]; ok {
		d.Description, _ = b.translated(e, "description", "description")
	}
	if e, ok := top["body"]; ok {
		if v, ok := b.name(e.value, e.keyN, "body"); ok {
			if !contains(Bodies, v) {
				b.errAt(e.value, "unknown body %q: use %s", v, quoteList(Bodies))
			}
			d.Body = v
		}
	}
	if e, ok := top["terms"]; ok {
		b.terms(e)
	}
	if e, ok := top["fields"]; ok {
		b.fields(e)
	}
	env, err := newExprEnv(d.Fields)
	if err != nil {
		b.errAt(root, "cannot prepare the expression environment: %v", err)
		return
	}
	d.env = env
	b.roles = map[string]bool{RoleSystem: true}
	if e, ok := top["roles"]; ok {
		b.declaredRoles(e)
	}
	if e, ok := top["panels"]; ok {
		b.panels(e)
	}
	var states []entry
	if e, ok := top["states"]; ok {
		states = b.stateNames(e)
	}
	if e, ok := top["actions"]; ok {
		b.actions(e)
	}
	if e, ok := top["start"]; ok {
		b.start(e)
	}
	b.fired = map[string]bool{}
	for _, se := range states {
		if st, ok := d.States[se.key]; ok {
			b.stateBody(st, se)
		}
	}
	b.checkActionAudiences()
	if e, ok := top["initial"]; ok {
		if v, ok := b.name(e.value, e.keyN, "initial"); ok {
			st, found := d.States[v]
			switch {
			case !found:
				b.errAt(e.value, "initial state %q is not declared under states%s", v, suggest(v, d.StateOrder))
			case st.Final:
				b.errAt(e.value, "initial state %q is final: a nomination could never move", v)
			}
			d.Initial = v
		}
	}
	if HasErrors(b.diags) {
		// Graph checks on a broken definition would only repeat the errors.
		return
	}
	b.checkGraph()
	b.checkUsage()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (b *builder) terms(e entry) {
	m, ok := b.object(e.value, e.keyN, "terms", "years", "max_consecutive")
	if m == nil && !ok {
		return
	}
	b.require(m, e.keyN, "terms", "years")
	if v, ok := m["years"]; ok {
		if n, ok := b.integer(v, "terms.years", 1, 10); ok {
			b.def.Terms.Years = int(n)
		}
	}
	if v, ok := m["max_consecutive"]; ok {
		if n, ok := b.integer(v, "terms.max_consecutive", 0, 100); ok {
			b.def.Terms.MaxConsecutive = int(n)
		}
	}
}

func (b *builder) fields(e entry) {
	items, ok := b.list(e, "fields")
	if !ok {
		return
	}
	if len(items) > maxFields {
		b.errAt(e.keyN, "%d fields declared, at most %d allowed", len(items), maxFields)
		return
	}
	for _, item := range items {
		b.field(item, e.keyN)
	}
}

func (b *builder) field(n ast.Node, at ast.Node) {
	m, ok := b.object(n, at, "a field",
		"name", "type", "label", "help", "required", "min_len", "max_len", "choices", "accept", "max_bytes", "max_files", "reviewer_visible")
	if m == nil && !ok {
		return
	}
	line, _ := pos(n)
	f := &Field{ReviewerVisible: true, Line: line}
	if !b.require(m, n, "a field", "name", "type") {
		return
	}
	name, ok := b.name(m["name"].value, m["name"].keyN, "field name")
	if !ok {
		return
	}
	f.Name = name
	what := fmt.Sprintf("field %q", name)
	if celReserved[name] {
		b.errAt(m["name"].value, "field name %q is a reserved word of the rule language; choose another name", name)
	}
	if prev, dup := b.def.fieldIndex[name]; dup {
		b.errAt(m["name"].value, "field %q is declared twice (first at line %d)", name, prev.Line)
		return
	}
	typ, ok := b.name(m["type"].value, m["type"].keyN, what+" type")
	if ok && !contains(knownTypes, typ) {
		b.errAt(m["type"].value, "%s has unknown type %q: use %s%s", what, typ, quoteList(knownTypes), suggest(typ, knownTypes))
		ok = false
	}
	if !ok {
		return
	}
	f.Type = typ
	if e, ok := m["label"]; ok {
		f.Label, _ = b.translated(e, "fields."+name+".label", what+" label")
	}
	if f.Label == "" {
		f.Label = strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", " ")
	}
	if e, ok := m["help"]; ok {
		f.Help, _ = b.translated(e, "fields."+name+".help", what+" help")
	}
	if e, ok := m["required"]; ok {
		f.Required, _ = b.boolean(e, what+" required")
	}
	if e, ok := m["reviewer_visible"]; ok {
		f.ReviewerVisible, _ = b.boolean(e, what+" reviewer_visible")
	}
	onlyFor := func(key string, types ...string) bool {
		e, present := m[key]
		if !present {
			return false
		}
		if !contains(types, typ) {
			b.errAt(e.keyN, "%s: %s applies only to %s fields", what, key, strings.Join(types, "/"))
			return false
		}
		return true
	}
	f.MaxLen = defaultMaxLen[typ]
	if onlyFor("max_len", TypeText, TypeLongText, TypeEmail) {
		if v, ok := b.integer(m["max_len"], what+" max_len", 1, int64(capMaxLen[typ])); ok {
			f.MaxLen = int(v)
		}
	}
	if onlyFor("min_len", TypeText, TypeLongText) {
		if v, ok := b.integer(m["min_len"], what+" min_len", 0, int64(capMaxLen[typ])); ok {
			f.MinLen = int(v)
			if f.MinLen > f.MaxLen {
				b.errAt(m["min_len"].value, "%s: min_len %d is more than max_len %d", what, f.MinLen, f.MaxLen)
			}
		}
	}
	if onlyFor("choices", TypeChoice) {
		b.choices(f, m["choices"], what)
	} else if typ == TypeChoice {
		b.errAt(n, "%s is a choice field and needs choices", what)
	}
	if onlyFor("accept", TypeFile) {
		b.accept(f, m["accept"], what)
	} else if typ == TypeFile {
		b.errAt(n, "%s is a file field and needs accept (the MIME types it takes, such as application/pdf)", what)
	}
	f.MaxBytes, f.MaxFiles = 0, 0
	if typ == TypeFile {
		f.MaxBytes, f.MaxFiles = defaultMaxBytes, defaultMaxFiles
	}
	if onlyFor("max_bytes", TypeFile) {
		if v, ok := b.integer(m["max_bytes"], what+" max_bytes", 1, capMaxBytes); ok {
			f.MaxBytes = v
		}
	}
	if onlyFor("max_files", TypeFile) {
		if v, ok := b.integer(m["max_files"], what+" max_files", 1, capMaxFiles); ok {
			f.MaxFiles = int(v)
		}
	}
	b.def.Fields = append(b.def.Fields, f)
	b.def.fieldIndex[name] = f
}

func (b *builder) choices(f *Field, e entry, what string) {
	items, ok := b.list(e, what+" choices")
	if !ok {
		return
	}
	if len(items) == 0 || len(items) > maxChoices {
		b.errAt(e.keyN, "%s needs between 1 and %d choices", what, maxChoices)
		return
	}
	for _, item := range items {
		var value, label string
		var at ast.Node = item
		if _, isString := item.(*ast.StringNode); isString {
			v, ok := b.name(item, e.keyN, what+" choice")
			if !ok {
				continue
			}
			value = v
		} else {
			m, ok := b.object(item, e.keyN, what+" choice", "value", "label")
			if m == nil && !ok {
				continue
			}
			if !b.require(m, item, what+" choice", "value") {
				continue
			}
			v, ok := b.name(m["value"].value, m["value"].keyN, what+" choice")
			if !ok {
				continue
			}
			value, at = v, m["value"].value
			if contains(f.Choices, value) {
				b.errAt(at, "%s lists choice %q twice", what, value)
				continue
			}
			if le, ok := m["label"]; ok {
				label, _ = b.translated(le, "fields."+f.Name+".choices."+v, fmt.Sprintf("%s choice %q label", what, v))
			}
		}
		if contains(f.Choices, value) {
			b.errAt(at, "%s lists choice %q twice", what, value)
			continue
		}
		f.Choices = append(f.Choices, value)
		if label != "" {
			if f.ChoiceLabels == nil {
				f.ChoiceLabels = map[string]string{}
			}
			f.ChoiceLabels[value] = label
		}
		if len(value) > f.MaxLen {
			f.MaxLen = len(value)
		}
	}
}

func (b *builder) accept(f *Field, e entry, what string) {
	items, ok := b.list(e, what+" accept")
	if !ok {
		return
	}
	if len(items) == 0 {
		b.errAt(e.keyN, "%s accept lists no MIME type", what)
	}
	for _, item := range items {
		s, isString := item.(*ast.StringNode)
		if !isString || !mimePattern.MatchString(s.Value) {
			b.errAt(item, "%s: %q is not a MIME type such as application/pdf", what, tokenValue(item))
			continue
		}
		f.Accept = append(f.Accept, s.Value)
	}
}

func (b *builder) declaredRoles(e entry) {
	names, nodes, _ := b.names(e, "role", false)
	for i, name := range names {
		if !contains(knownRoles, name) {
			b.errAt(nodes[i], "unknown role %q: roles are %s%s", name, quoteList(knownRoles), suggest(name, knownRoles))
			continue
		}
		if b.roles[name] && name != RoleSystem {
			b.errAt(nodes[i], "role %q is listed twice", name)
			continue
		}
		b.roles[name] = true
		b.roleNodes[name] = nodes[i]
		if name != RoleSystem {
			b.def.Roles = append(b.def.Roles, name)
		}
	}
}

func (b *builder) panels(e entry) {
	names, nodes, _ := b.names(e, "panel", false)
	for i, name := range names {
		if contains(b.def.Panels, name) {
			b.errAt(nodes[i], "panel %q is listed twice", name)
			continue
		}
		b.def.Panels = append(b.def.Panels, name)
		b.panelNodes[name] = nodes[i]
	}
}

// stateNames declares every state so actions can refer to them; bodies are
// read afterwards, once the actions are known.
func (b *builder) stateNames(e entry) []entry {
	entries, _ := b.mapping(e.value, e.keyN, "states")
	if len(entries) > maxStates {
		b.errAt(e.keyN, "%d states declared, at most %d allowed", len(entries), maxStates)
		return nil
	}
	if len(entries) == 0 {
		b.errAt(e.keyN, "states declares no state")
	}
	var out []entry
	for _, se := range entries {
		if !validName(se.key) {
			b.errAt(se.keyN, "state name %q is not valid: use lower-case letters, digits and _", se.key)
			continue
		}
		line, _ := pos(se.keyN)
		b.def.States[se.key] = &State{Name: se.key, Line: line}
		b.def.StateOrder = append(b.def.StateOrder, se.key)
		b.stateKeys[se.key] = se.keyN
		out = append(out, se)
	}
	return out
}

// stateRef checks that n names a declared state.
func (b *builder) stateRef(n ast.Node, at ast.Node, what string) (string, bool) {
	v, ok := b.name(n, at, what)
	if !ok {
		return "", false
	}
	if _, found := b.def.States[v]; !found {
		b.errAt(n, "unknown state %q in %s%s", v, what, suggest(v, b.def.StateOrder))
		return "", false
	}
	return v, true
}

func (b *builder) actions(e entry) {
	items, ok := b.list(e, "actions")
	if !ok {
		return
	}
	if len(items) > maxActions {
		b.errAt(e.keyN, "%d actions declared, at most %d allowed", len(items), maxActions)
		return
	}
	if len(items) == 0 {
		b.errAt(e.keyN, "actions declares no action")
	}
	for _, item := range items {
		b.action(item, e.keyN)
	}
}

func (b *builder) action(n ast.Node, at ast.Node) {
	m, ok := b.object(n, at, "an action", "name", "label", "description", "from", "to", "roles", "guards", "inputs", "notify")
	if m == nil && !ok {
		return
	}
	if !b.require(m, n, "an action", "name", "from", "to", "roles") {
		return
	}
	name, ok := b.name(m["name"].value, m["name"].keyN, "action name")
	if !ok {
		return
	}
	line, _ := pos(n)
	a := &Action{Name: name, Line: line}
	what := fmt.Sprintf("action %q", name)
	if prev, dup := b.def.actionIndex[name]; dup {
		b.errAt(m["name"].value, "action %q is declared twice (first at line %d)", name, prev.Line)
		return
	}
	if e, ok := m["label"]; ok {
		a.Label, _ = b.translated(e, "actions."+name+".label", what+" label")
	}
	if e, ok := m["description"]; ok {
		a.Description, _ = b.translated(e, "actions."+name+".description", what+" description")
	}
	froms, fromNodes, fromOK := b.names(m["from"], what+" from", true)
	if fromOK && len(froms) == 0 {
		b.errAt(m["from"].keyN, "%s names no state to leave from", what)
	}
	for i, f := range froms {
		if _, found := b.def.States[f]; !found {
			b.errAt(fromNodes[i], "unknown state %q in %s from%s", f, what, suggest(f, b.def.StateOrder))
			continue
		}
		if contains(a.From, f) {
			b.errAt(fromNodes[i], "%s lists state %q twice in from", what, f)
			continue
		}
		a.From = append(a.From, f)
		b.fromNodes[a] = append(b.fromNodes[a], fromNodes[i])
	}
	if to, ok := b.stateRef(m["to"].value, m["to"].keyN, what+" to"); ok {
		a.To = to
	}
	roles, roleNodes, rolesOK := b.names(m["roles"], what+" roles", true)
	if rolesOK && len(roles) == 0 {
		b.errAt(m["roles"].keyN, "%s names no role", what)
	}
	for i, r := range roles {
		switch {
		case !contains(knownRoles, r):
			b.errAt(roleNodes[i], "unknown role %q in %s: roles are %s%s", r, what, quoteList(knownRoles), suggest(r, knownRoles))
		case !b.roles[r]:
			b.errAt(roleNodes[i], "%s names role %q, which is not declared under roles", what, r)
		case contains(a.Roles, r):
			b.errAt(roleNodes[i], "%s lists role %q twice", what, r)
		default:
			a.Roles = append(a.Roles, r)
		}
	}
	if e, ok := m["inputs"]; ok {
		inputs, inputNodes, _ := b.names(e, what+" inputs", true)
		for i, in := range inputs {
			if !contains(knownInputs, in) {
				b.errAt(inputNodes[i], "unknown input %q in %s: inputs are %s%s", in, what, quoteList(knownInputs), suggest(in, knownInputs))
				continue
			}
			if !contains(a.Inputs, in) {
				a.Inputs = append(a.Inputs, in)
			}
		}
	}
	if e, ok := m["guards"]; ok {
		a.Guards = b.guards(e, what, "actions."+name+".guards.")
	}
	if e, ok := m["notify"]; ok {
		// Panel audiences are checked against the target state once the
		// states' reviews are read (checkActionAudiences).
		a.Notify = b.notifications(e, what, nil)
	}
	b.def.Actions = append(b.def.Actions, a)
	b.def.actionIndex[name] = a
}

// guards reads a list of {rule, message} items.
func (b *builder) guards(e entry, what, key string) []*Guard {
	var out []*Guard
	items, ok := b.list(e, what+" guards")
	if !ok {
		return nil
	}
	if len(items) > maxGuards {
		b.errAt(e.keyN, "%s has %d guards, at most %d allowed", what, len(items), maxGuards)
		return nil
	}
	seen := map[string]int{}
	for i, item := range items {
		m, ok := b.object(item, e.keyN, what+" guard", "rule", "message")
		if m == nil && !ok {
			continue
		}
		if !b.require(m, item, what+" guard", "rule", "message") {
			continue
		}
		rule, ok := b.text(m["rule"], what+" guard rule")
		if !ok {
			continue
		}
		msg, ok := b.translated(m["message"], key+strconv.Itoa(i+1), fmt.Sprintf("%s guard %d message", what, i+1))
		if !ok {
			continue
		}
		if strings.TrimSpace(msg) == "" {
			b.errAt(orKey(m["message"].value, m["message"]), "%s: guard message is empty; say what the user must do", what)
			continue
		}
		line, _ := pos(item)
		g := &Guard{Rule: rule, Message: strings.TrimSpace(msg), Line: line, key: key + strconv.Itoa(i+1)}
		g.expr = b.compileAt(m["rule"].value, rule, cel.BoolType, fmt.Sprintf("%s guard %d", what, i+1))
		key := strings.Join(strings.Fields(rule), " ")
		if prev, dup := seen[key]; dup {
			b.warnAt(m["rule"].value, "%s: guard %d repeats the rule of guard %d", what, i+1, prev)
		} else {
			seen[key] = i + 1
		}
		out = append(out, g)
	}
	return out
}

// start reads the start rules: who may start a nomination in a call, and
// how many one nominator may hold.
func (b *builder) start(e entry) {
	m, ok := b.object(e.value, e.keyN, "start", "guards", "quota", "quota_message")
	if m == nil && !ok {
		return
	}
	line, _ := pos(e.keyN)
	st := &b.def.Starting
	st.Line = line
	if ge, ok := m["guards"]; ok {
		st.Guards = b.guards(ge, "start", "start.guards.")
	}
	qe, hasQuota := m["quota"]
	me, hasMessage := m["quota_message"]
	if hasQuota {
		if n, ok := b.integer(qe, "start quota", 1, 1000); ok {
			st.Quota = int(n)
		}
	}
	if hasMessage {
		if msg, ok := b.translated(me, "start.quota_message", "start quota_message"); ok {
			st.QuotaMessage = strings.TrimSpace(msg)
		}
	}
	switch {
	case hasQuota && (!hasMessage || st.QuotaMessage == ""):
		b.errAt(qe.keyN, "start: quota needs a quota_message saying what a nominator over it must know")
	case hasMessage && !hasQuota:
		b.errAt(me.keyN, "start: quota_message without a quota")
	}
}

// noPersonFacts refuses a rule the engine evaluates on its own (a review
// rule, a timer's time) that names a person fact: there is no nominator or
// nominee asking there, so the facts are not gathered.
func (b *builder) noPersonFacts(n ast.Node, x *expr, what string) {
	if x == nil {
		return
	}
	var names []string
	for r := range x.refs {
		if strings.HasPrefix(r, NominatorPrefix) || strings.HasPrefix(r, NomineePrefix) {
			names = append(names, r)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	b.errAt(n, "%s uses %s, but the engine evaluates it on its own, where there is no nominator or nominee: person facts may be used only in start guards and action guards", what, strings.Join(names, ", "))
}

// compileAt compiles the expression held by node n, reporting problems at
// their place in the file.
func (b *builder) compileAt(n ast.Node, src string, want *cel.Type, what string) *expr {
	x, issues := b.def.env.compile(src, want)
	if x != nil {
		for r := range x.refs {
			b.def.refs[r] = true
		}
	}
	line, col, exact := exprPos(n)
	for _, is := range issues {
		l, c := line, col
		if is.line > 0 {
			l = line + is.line - 1
			if exact && is.line == 1 && is.col >= 0 {
				c = col + is.col
			} else if !exact && is.line > 1 {
				c = 0
			}
		}
		b.add(SeverityError, l, c, "%s: %s", what, is.msg)
	}
	return x
}

// notifications reads a list of {notify, template} items. state is where
// the message is sent from (for the panel audiences), nil when unknown.
func (b *builder) notifications(e entry, what string, state *State) []Notify {
	items, ok := b.list(e, what+" notify")
	if !ok {
		return nil
	}
	if len(items) > maxNotifications {
		b.errAt(e.keyN, "%s sends %d notifications, at most %d allowed", what, len(items), maxNotifications)
		return nil
	}
	var out []Notify
	for _, item := range items {
		m, ok := b.object(item, e.keyN, what+" notification", "notify", "template")
		if m == nil && !ok {
			continue
		}
		if !b.require(m, item, what+" notification", "notify", "template") {
			continue
		}
		line, _ := pos(item)
		nt := Notify{Line: line}
		aud, ok1 := b.audience(m["notify"], what, state)
		tpl, ok2 := b.template(m["template"], what)
		if ok1 && ok2 {
			nt.Audience, nt.Template = aud, tpl
			out = append(out, nt)
		}
	}
	return out
}

func (b *builder) audience(e entry, what string, state *State) (string, bool) {
	v, ok := b.name(e.value, e.keyN, what+" audience")
	if !ok {
		return "", false
	}
	if !contains(knownAudiences, v) {
		b.errAt(e.value, "unknown audience %q in %s: audiences are %s%s", v, what, quoteList(knownAudiences), suggest(v, knownAudiences))
		return "", false
	}
	if (v == AudiencePanel || v == AudiencePendingReviewers) && state != nil && state.Review == nil {
		b.errAt(e.value, "%s notifies %q, but state %q holds no review", what, v, state.Name)
		return "", false
	}
	return v, true
}

func (b *builder) template(e entry, what string) (string, bool) {
	v, ok := b.name(e.value, e.keyN, what+" template")
	if !ok {
		return "", false
	}
	if !b.templates.Has(v) {
		b.errAt(e.value, "unknown template %q in %s: no %s.txt in the templates directory%s", v, what, v, suggest(v, b.templates.Names()))
		return "", false
	}
	return v, true
}

// checkActionAudiences reports actions that notify a panel audience while
// moving the nomination to a state that holds no review.
func (b *builder) checkActionAudiences() {
	for _, a := range b.def.Actions {
		st, ok := b.def.States[a.To]
		if !ok || st.Review != nil {
			continue
		}
		for _, n := range a.Notify {
			if n.Audience == AudiencePanel || n.Audience == AudiencePendingReviewers {
				b.add(SeverityError, n.Line, 0, "action %q notifies %q, but its target state %q holds no review", a.Name, n.Audience, a.To)
			}
		}
	}
}

// stateBody reads a state's settings; the review first, since notifications
// and timers of the state may depend on it.
func (b *builder) stateBody(st *State, se entry) {
	if _, isNull := se.value.(*ast.NullNode); isNull || se.value == nil {
		return // a state with no settings: a plain step
	}
	what := fmt.Sprintf("state %q", st.Name)
	m, ok := b.object(se.value, se.keyN, what, "label", "description", "final", "editable", "creates_member", "on_enter", "review", "timers")
	if m == nil && !ok {
		return
	}
	if e, ok := m["label"]; ok {
		st.Label, _ = b.translated(e, "states."+st.Name+".label", what+" label")
	}
	if e, ok := m["description"]; ok {
		st.Description, _ = b.translated(e, "states."+st.Name+".description", what+" description")
	}
	if e, ok := m["final"]; ok {
		st.Final, _ = b.boolean(e, what+" final")
	}
	if e, ok := m["editable"]; ok {
		st.Editable, _ = b.boolean(e, what+" editable")
		if st.Editable && st.Final {
			b.errAt(e.keyN, "%s is final and cannot be editable", what)
		}
	}
	if e, ok := m["creates_member"]; ok {
		st.CreatesMember, _ = b.boolean(e, what+" creates_member")
	}
	if e, ok := m["review"]; ok {
		if st.Final {
			b.errAt(e.keyN, "%s is final and cannot hold a review", what)
		} else {
			st.Review = b.review(st, e, what)
		}
	}
	if e, ok := m["on_enter"]; ok {
		st.OnEnter = b.notifications(e, what+" on_enter", st)
	}
	if e, ok := m["timers"]; ok {
		if st.Final {
			b.errAt(e.keyN, "%s is final and cannot have timers: nothing happens after the end", what)
		} else {
			b.timers(st, e, what)
		}
	}
}

func (b *builder) review(st *State, e entry, what string) *Review {
	what += " review"
	m, ok := b.object(e.value, e.keyN, what,
		"panel", "panel_from_field", "options", "score", "exclude", "pass_if", "fail_if", "changes_if",
		"on_pass", "on_fail", "on_request_changes", "due", "allow_change")
	if m == nil && !ok {
		return nil
	}
	line, _ := pos(e.keyN)
	r := &Review{Line: line}
	if !b.require(m, e.keyN, what, "options", "pass_if", "on_pass", "due") {
		return nil
	}
	pe, hasPanel := m["panel"]
	fe, hasField := m["panel_from_field"]
	switch {
	case hasPanel && hasField:
		b.errAt(fe.keyN, "%s names both panel and panel_from_field; use one", what)
	case !hasPanel && !hasField:
		b.errAt(e.keyN, "%s needs panel or panel_from_field", what)
	case hasPanel:
		if v, ok := b.name(pe.value, pe.keyN, what+" panel"); ok {
			if !contains(b.def.Panels, v) {
				b.errAt(pe.value, "unknown panel %q in %s: declare it under panels%s", v, what, suggest(v, b.def.Panels))
			}
			r.Panel = v
		}
	default:
		if v, ok := b.name(fe.value, fe.keyN, what+" panel_from_field"); ok {
			f, found := b.def.fieldIndex[v]
			switch {
			case !found:
				b.errAt(fe.value, "unknown field %q in %s%s", v, what, suggest(v, fieldNames(b.def.Fields)))
			case f.Type != TypeChoice:
				b.errAt(fe.value, "%s: panel_from_field %q must be a choice field, not %s", what, v, f.Type)
			default:
				var missing []string
				for _, c := range f.Choices {
					if !contains(b.def.Panels, c) {
						missing = append(missing, c)
					}
				}
				if len(missing) > 0 {
					b.errAt(fe.value, "%s: every choice of field %q must name a panel; not declared under panels: %s", what, v, quoteList(missing))
				}
			}
			r.PanelFromField = v
		}
	}
	opts, optNodes, _ := b.names(m["options"], what+" options", false)
	for i, o := range opts {
		switch {
		case !contains(knownOptions, o):
			b.errAt(optNodes[i], "unknown vote option %q in %s: options are %s%s", o, what, quoteList(knownOptions), suggest(o, knownOptions))
		case contains(r.Options, o):
			b.errAt(optNodes[i], "%s lists option %q twice", what, o)
		default:
			r.Options = append(r.Options, o)
		}
	}
	if len(opts) == 0 && len(optNodes) == 0 {
		b.errAt(m["options"].keyN, "%s lists no vote option", what)
	}
	if se, ok := m["score"]; ok {
		r.Score = b.score(se, what)
	}
	if xe, ok := m["exclude"]; ok {
		xs, xNodes, _ := b.names(xe, what+" exclude", false)
		for i, x := range xs {
			if !contains(knownExclusions, x) {
				b.errAt(xNodes[i], "unknown exclusion %q in %s: exclusions are %s%s", x, what, quoteList(knownExclusions), suggest(x, knownExclusions))
				continue
			}
			if !contains(r.Exclude, x) {
				r.Exclude = append(r.Exclude, x)
			}
		}
	}
	if de, ok := m["due"]; ok {
		r.Due, _ = b.duration(de, what+" due")
	}
	if ae, ok := m["allow_change"]; ok {
		r.AllowChange, _ = b.boolean(ae, what+" allow_change")
	}
	rule := func(key string) (string, *expr) {
		re, ok := m[key]
		if !ok {
			return "", nil
		}
		src, ok := b.text(re, what+" "+key)
		if !ok {
			return "", nil
		}
		x := b.compileAt(re.value, src, cel.BoolType, what+" "+key)
		b.noPersonFacts(re.value, x, what+" "+key)
		return src, x
	}
	outcome := func(key string) string {
		oe, ok := m[key]
		if !ok {
			return ""
		}
		v, ok := b.name(oe.value, oe.keyN, what+" "+key)
		if !ok {
			return ""
		}
		b.firedAction(oe.value, v, st, what+" "+key)
		return v
	}
	r.PassIf, r.passIf = rule("pass_if")
	r.FailIf, r.failIf = rule("fail_if")
	r.OnPass = outcome("on_pass")
	r.OnFail = outcome("on_fail")
	r.OnRequestChanges = outcome("on_request_changes")
	switch hasFail, hasOnFail := hasKey(m, "fail_if"), hasKey(m, "on_fail"); {
	case hasFail && !hasOnFail:
		b.errAt(m["fail_if"].keyN, "%s has fail_if but no on_fail action", what)
	case !hasFail && hasOnFail:
		b.errAt(m["on_fail"].keyN, "%s has on_fail but no fail_if rule", what)
	}
	wantsChanges := contains(r.Options, VoteRequestChanges)
	hasChanges := hasKey(m, "on_request_changes")
	switch {
	case wantsChanges && !hasChanges:
		b.errAt(m["options"].keyN, "%s offers request_changes but names no on_request_changes action", what)
	case !wantsChanges && hasChanges:
		b.errAt(m["on_request_changes"].keyN, "%s has on_request_changes but does not offer the request_changes option", what)
	case !wantsChanges && hasKey(m, "changes_if"):
		b.errAt(m["changes_if"].keyN, "%s has changes_if but does not offer the request_changes option", what)
	}
	if wantsChanges {
		if _, ok := m["changes_if"]; ok {
			r.ChangesIf, r.changesIf = rule("changes_if")
		} else {
			r.ChangesIf = "tally.request_changes > 0"
			r.changesIf, _ = b.def.env.compile(r.ChangesIf, cel.BoolType)
		}
	}
	if r.Score != nil && !contains(r.Options, VoteApprove) && !contains(r.Options, VoteReject) {
		b.errAt(m["score"].keyN, "%s has a score but neither approve nor reject votes to carry it", what)
	}
	if r.passIf != nil {
		at := m["pass_if"].value
		if fe, ok := m["fail_if"]; ok {
			at = fe.value
		}
		b.checkOverlap(at, r, what)
	}
	return r
}

func hasKey(m map[string]entry, k string) bool {
	_, ok := m[k]
	return ok
}

func fieldNames(fields []*Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

func (b *builder) score(e entry, what string) *ScoreRange {
	m, ok := b.object(e.value, e.keyN, what+" score", "min", "max", "required")
	if m == nil && !ok {
		return nil
	}
	if !b.require(m, e.keyN, what+" score", "min", "max") {
		return nil
	}
	s := &ScoreRange{}
	lo, ok1 := b.integer(m["min"], what+" score min", 0, 100)
	hi, ok2 := b.integer(m["max"], what+" score max", 0, 100)
	if !ok1 || !ok2 {
		return nil
	}
	if lo >= hi {
		b.errAt(m["max"].value, "%s: score max %d must be more than min %d", what, hi, lo)
		return nil
	}
	s.Min, s.Max = int(lo), int(hi)
	if re, ok := m["required"]; ok {
		s.Required, _ = b.boolean(re, what+" score required")
	}
	return s
}

// firedAction checks an action the engine fires from state st (a review
// outcome or an escalation): it must exist, leave st, and allow the system.
func (b *builder) firedAction(n ast.Node, name string, st *State, what string) {
	a, found := b.def.actionIndex[name]
	if !found {
		b.errAt(n, "unknown action %q in %s%s", name, what, suggest(name, actionNames(b.def.Actions)))
		return
	}
	if !contains(a.From, st.Name) {
		b.errAt(n, "%s fires action %q, which does not leave state %q (add it to the action's from)", what, name, st.Name)
	}
	if !contains(a.Roles, RoleSystem) {
		b.errAt(n, "%s fires action %q, whose roles do not include system (the engine fires it)", what, name)
	}
	b.fired[name] = true
}

func actionNames(actions []*Action) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.Name
	}
	return out
}

func (b *builder) timers(st *State, e entry, what string) {
	items, ok := b.list(e, what+" timers")
	if !ok {
		return
	}
	if len(items) > maxTimers {
		b.errAt(e.keyN, "%s has %d timers, at most %d allowed", what, len(items), maxTimers)
		return
	}
	for _, item := range items {
		m, ok := b.object(item, e.keyN, what+" timer", "name", "kind", "at", "every", "notify", "template", "action")
		if m == nil && !ok {
			continue
		}
		if !b.require(m, item, what+" timer", "name", "kind", "at") {
			continue
		}
		name, ok := b.name(m["name"].value, m["name"].keyN, what+" timer name")
		if !ok {
			continue
		}
		tw := fmt.Sprintf("%s timer %q", what, name)
		line, _ := pos(item)
		t := &Timer{Name: name, Line: line}
		for _, prev := range st.Timers {
			if prev.Name == name {
				b.errAt(m["name"].value, "%s is declared twice in the state", tw)
			}
		}
		kind, ok := b.name(m["kind"].value, m["kind"].keyN, tw+" kind")
		if ok && !contains(knownTimerKinds, kind) {
			b.errAt(m["kind"].value, "unknown timer kind %q in %s: kinds are %s%s", kind, tw, quoteList(knownTimerKinds), suggest(kind, knownTimerKinds))
		}
		t.Kind = kind
		if src, ok := b.text(m["at"], tw+" at"); ok {
			t.At = src
			t.at = b.compileAt(m["at"].value, src, cel.TimestampType, tw+" at")
			b.noPersonFacts(m["at"].value, t.at, tw+" at")
			if t.at != nil && t.at.refs["review_due"] && st.Review == nil {
				b.errAt(m["at"].value, "%s uses review_due, but state %q holds no review", tw, st.Name)
			}
		}
		if ee, ok := m["every"]; ok {
			if kind != TimerReminder {
				b.errAt(ee.keyN, "%s: only reminders repeat (every)", tw)
			} else if d, ok := b.duration(ee, tw+" every"); ok {
				if d.Hours() < 1 {
					b.errAt(ee.value, "%s repeats more often than hourly", tw)
				}
				t.Every = d
			}
		}
		ne, hasNotify := m["notify"]
		te, hasTemplate := m["template"]
		switch {
		case hasNotify && hasTemplate:
			t.Audience, _ = b.audience(ne, tw, st)
			t.Template, _ = b.template(te, tw)
		case hasNotify:
			b.errAt(ne.keyN, "%s has notify but no template", tw)
		case hasTemplate:
			b.errAt(te.keyN, "%s has template but no notify", tw)
		case kind == TimerReminder:
			b.errAt(item, "%s is a reminder and needs notify and template", tw)
		}
		if ae, ok := m["action"]; ok {
			if kind == TimerReminder {
				b.errAt(ae.keyN, "%s is a reminder and cannot fire an action; use kind: escalation", tw)
			} else if v, ok := b.name(ae.value, ae.keyN, tw+" action"); ok {
				b.firedAction(ae.value, v, st, tw)
				t.Action = v
			}
		} else if kind == TimerEscalation {
			b.errAt(item, "%s is an escalation and needs an action to fire", tw)
		}
		st.Timers = append(st.Timers, t)
	}
}

// checkGraph reports unreachable states, states with no way to a final
// state, and actions leaving final states.
func (b *builder) checkGraph() {
	d := b.def
	out := map[string][]string{}
	in := map[string][]string{}
	hasFinal := false
	for _, a := range d.Actions {
		for i, f := range a.From {
			if d.States[f].Final {
				b.errAt(b.fromNodes[a][i], "action %q leaves final state %q; final states end the nomination", a.Name, f)
			}
			out[f] = append(out[f], a.To)
			in[a.To] = append(in[a.To], f)
		}
	}
	for _, name := range d.StateOrder {
		if d.States[name].Final {
			hasFinal = true
		}
	}
	if !hasFinal {
		b.errAt(b.stateKeys[d.StateOrder[0]], "no state is final: add final: true to the states that end a nomination")
		return
	}
	reached := walkFrom([]string{d.Initial}, out)
	for _, name := range d.StateOrder {
		if !reached[name] {
			b.errAt(b.stateKeys[name], "state %q is unreachable: no action leads to it from the initial state %q", name, d.Initial)
		}
	}
	var finals []string
	for _, name := range d.StateOrder {
		if d.States[name].Final {
			finals = append(finals, name)
		}
	}
	ending := walkFrom(finals, in)
	for _, name := range d.StateOrder {
		if !ending[name] && reached[name] {
			b.errAt(b.stateKeys[name], "state %q has no path to a final state: a nomination there could never end", name)
		}
	}
}

func walkFrom(start []string, edges map[string][]string) map[string]bool {
	seen := map[string]bool{}
	queue := append([]string(nil), start...)
	for _, s := range start {
		seen[s] = true
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, t := range edges[s] {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	return seen
}

// checkUsage warns about declarations nothing uses.
func (b *builder) checkUsage() {
	d := b.def
	used := map[string]bool{}
	for _, a := range d.Actions {
		for _, r := range a.Roles {
			used[r] = true
		}
		if len(a.Roles) == 1 && a.Roles[0] == RoleSystem && !b.fired[a.Name] {
			b.add(SeverityWarning, a.Line, 0, "action %q can only be taken by the system, but no review or timer fires it", a.Name)
		}
	}
	for _, r := range d.Roles {
		if !used[r] && r != RoleAdmin {
			b.warnAt(b.roleNodes[r], "role %q is declared but no action names it", r)
		}
	}
	panels := map[string]bool{}
	for _, name := range d.StateOrder {
		rv := d.States[name].Review
		if rv == nil {
			continue
		}
		if rv.Panel != "" {
			panels[rv.Panel] = true
		}
		if f, ok := d.fieldIndex[rv.PanelFromField]; ok {
			for _, c := range f.Choices {
				panels[c] = true
			}
		}
	}
	for _, p := range d.Panels {
		if !panels[p] {
			b.warnAt(b.panelNodes[p], "panel %q is declared but no review uses it", p)
		}
	}
}
