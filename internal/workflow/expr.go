package workflow

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	celenv "github.com/google/cel-go/common/env"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Limits on CEL expressions. A guard or vote rule is a line or two; these
// bounds reject anything that could loop, allocate or take noticeable time.
const (
	// MaxExprLength is the longest expression accepted, in characters.
	MaxExprLength = 1000
	// MaxExprCost bounds both the cost CEL estimates at load (worst case over
	// every input the declared limits allow) and the cost actually spent at
	// evaluation. A comparison of two short strings costs 1 or 2.
	MaxExprCost = 2000
)

// Sizes assumed for strings whose length the definition does not bound.
const (
	consentSize = 16
	stateSize   = 64
)

// exprEnv is the CEL environment of one definition: the engine's variables
// plus one typed variable per form field, and nothing else callable but the
// standard operators and functions of CEL (without macros, so nothing
// iterates) and the engine's days() and hours().
type exprEnv struct {
	env   *cel.Env
	sizes map[string]uint64
	names []string
}

// expr is one compiled expression.
type expr struct {
	src  string
	prg  cel.Program
	refs map[string]bool
}

// engineVars are the variables every expression may use, with their types.
var engineVars = []struct {
	name string
	typ  *cel.Type
}{
	{"now", cel.TimestampType},
	{"entered_at", cel.TimestampType},
	{"review_due", cel.TimestampType},
	{"call.opens_at", cel.TimestampType},
	{"call.closes_at", cel.TimestampType},
	{"call.term_start", cel.TimestampType},
	{"call.seats", cel.IntType},
	{"call.required_endorsements", cel.IntType},
	{"call.nominator_quota", cel.IntType},
	{"complete", cel.BoolType},
	{"endorsements", cel.IntType},
	{"consent", cel.StringType},
	{"consecutive_terms", cel.IntType},
	{"round", cel.IntType},
	{"state", cel.StringType},
	{"terms.years", cel.IntType},
	{"terms.max_consecutive", cel.IntType},
	{"tally.approve", cel.IntType},
	{"tally.reject", cel.IntType},
	{"tally.request_changes", cel.IntType},
	{"tally.recuse", cel.IntType},
	{"tally.eligible", cel.IntType},
	{"tally.votes", cel.IntType},
	{"tally.pending", cel.IntType},
	{"tally.scored", cel.IntType},
	{"tally.score_sum", cel.DoubleType},
	{"tally.score_avg", cel.DoubleType},
}

// Person facts: what the rules know of the nominator (the account that
// starts or owns the nomination) and of the nominee, gathered by the
// caller only when a rule names them (Definition.Uses). They exist where a
// person asks for something (start rules and action guards), not in the
// rules the engine evaluates on its own (review rules, timer times).
const (
	// NominatorPrefix and NomineePrefix start the names of person facts.
	NominatorPrefix = "nominator."
	NomineePrefix   = "nominee."
)

// personVars are the person facts, with their types; per-body facts are
// added for each of Bodies.
var personVars = []struct {
	name string
	typ  *cel.Type
}{
	{"nominator.roles", cel.ListType(cel.StringType)},
	{"nominator.stakeholder_group", cel.StringType},
	{"nominator.nominations", cel.IntType},
	{"nominee.stakeholder_group", cel.StringType},
	{"nominee.self", cel.BoolType},
}

// Sizes of the person facts for cost estimates: a stakeholder group is a
// short key, an account holds a handful of roles.
const (
	groupSize = 64
	rolesSize = 8
)

// newExprEnv builds the environment for a definition's fields.
func newExprEnv(fields []*Field) (*exprEnv, error) {
	opts := []cel.EnvOption{
		cel.StdLib(cel.StdLibSubset(&celenv.LibrarySubset{DisableMacros: true})),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserRecursionLimit(32),
		cel.ParserExpressionSizeLimit(MaxExprLength),
		cel.ExpressionNodeLimit(200),
		cel.RegexProgramSizeLimit(200),
		cel.Function("days",
			cel.Overload("workflow_days_int", []*cel.Type{cel.IntType}, cel.DurationType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return durationOf(v, 24*time.Hour) }))),
		cel.Function("hours",
			cel.Overload("workflow_hours_int", []*cel.Type{cel.IntType}, cel.DurationType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return durationOf(v, time.Hour) }))),
	}
	e := &exprEnv{sizes: map[string]uint64{"consent": consentSize, "state": stateSize,
		"nominator.stakeholder_group": groupSize, "nominee.stakeholder_group": groupSize, "nominator.roles": rolesSize}}
	for _, v := range engineVars {
		opts = append(opts, cel.Variable(v.name, v.typ))
		e.names = append(e.names, v.name)
	}
	for _, v := range personVars {
		opts = append(opts, cel.Variable(v.name, v.typ))
		e.names = append(e.names, v.name)
	}
	for _, who := range []string{"nominator", "nominee"} {
		for _, body := range Bodies {
			for _, fact := range []struct {
				name string
				typ  *cel.Type
			}{{"terms", cel.IntType}, {"member", cel.BoolType}, {"group", cel.StringType}} {
				name := who + "." + fact.name + "." + body
				opts = append(opts, cel.Variable(name, fact.typ))
				e.names = append(e.names, name)
				if fact.typ == cel.StringType {
					e.sizes[name] = groupSize
				}
			}
		}
	}
	for _, f := range fields {
		switch f.Type {
		case TypeFile:
			name := "attachments." + f.Name
			opts = append(opts, cel.Variable(name, cel.IntType))
			e.names = append(e.names, name)
		case TypeBool:
			name := "fields." + f.Name
			opts = append(opts, cel.Variable(name, cel.BoolType))
			e.names = append(e.names, name)
		default:
			name := "fields." + f.Name
			opts = append(opts, cel.Variable(name, cel.StringType))
			e.names = append(e.names, name)
			e.sizes[name] = uint64(f.MaxLen)
		}
	}
	env, err := cel.NewCustomEnv(opts...)
	if err != nil {
		return nil, err
	}
	e.env = env
	return e, nil
}

// durationOf returns n units as a CEL duration, or an error value when n is
// out of the ten-year range workflow durations keep to.
func durationOf(v ref.Val, unit time.Duration) ref.Val {
	n, ok := v.(types.Int)
	if !ok {
		return types.NewErr("expected an integer")
	}
	if int64(n) > int64(maxDuration/unit) || int64(n) < -int64(maxDuration/unit) {
		return types.NewErr("duration out of range")
	}
	return types.Duration{Duration: time.Duration(n) * unit}
}

// exprIssue is one problem with an expression, located within its text
// (line 1-based, col 0-based; 0/-1 when unknown).
type exprIssue struct {
	line, col int
	msg       string
}

var undeclaredRef = regexp.MustCompile(`undeclared reference to '([^']*)'`)

// compile parses, type-checks and cost-checks src, which must produce want.
func (e *exprEnv) compile(src string, want *cel.Type) (*expr, []exprIssue) {
	if strings.TrimSpace(src) == "" {
		return nil, []exprIssue{{msg: "expression is empty"}}
	}
	if n := len([]rune(src)); n > MaxExprLength {
		return nil, []exprIssue{{msg: fmt.Sprintf("expression is %d characters long, more than the %d allowed", n, MaxExprLength)}}
	}
	checked, iss := e.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, e.issues(src, iss.Errors())
	}
	if got := checked.OutputType(); !got.IsExactType(want) {
		return nil, []exprIssue{{msg: fmt.Sprintf("expression gives %s, but %s is needed here", cel.FormatCELType(got), cel.FormatCELType(want))}}
	}
	est, err := e.env.EstimateCost(checked, sizeEstimator{e.sizes})
	if err != nil {
		return nil, []exprIssue{{msg: "cannot estimate the cost of the expression: " + err.Error()}}
	}
	if est.Max > MaxExprCost {
		return nil, []exprIssue{{msg: fmt.Sprintf("expression is too costly: its estimated worst-case cost is %s, more than the %d allowed (long texts compared or joined several times cost the most: use them less, or lower the fields' max_len)", costString(est.Max), MaxExprCost)}}
	}
	prg, err := e.env.Program(checked, cel.CostLimit(MaxExprCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []exprIssue{{msg: "cannot prepare the expression: " + err.Error()}}
	}
	refs := map[string]bool{}
	for _, r := range checked.NativeRep().ReferenceMap() {
		if r != nil && r.Name != "" && len(r.OverloadIDs) == 0 {
			refs[r.Name] = true
		}
	}
	return &expr{src: src, prg: prg, refs: refs}, nil
}

var qualifiedName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)

// qualifiedNameAt returns the dotted name starting at line (1-based) and
// col (0-based, in characters) of src, without a trailing method name.
func qualifiedNameAt(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) || col < 0 {
		return ""
	}
	runes := []rune(lines[line-1])
	if col >= len(runes) {
		return ""
	}
	rest := string(runes[col:])
	name := qualifiedName.FindString(rest)
	if strings.HasPrefix(rest[len(name):], "(") {
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
	}
	return name
}

// operatorNames spells CEL's internal operator names as written.
var operatorNames = map[string]string{
	"_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
	"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "-_": "-",
	"_&&_": "&&", "_||_": "||", "!_": "!", "@in": "in", "_?_:_": "?:", "_[_]": "[]",
}

var (
	noOverload = regexp.MustCompile(`^found no matching overload for '([^']*)' applied to '\((.*)\)'$`)
	expecting  = regexp.MustCompile(` expecting (\{.*\}|'.*')$`)
)

// issues turns CEL's errors into messages for people who write workflows:
// the whole misspelt name with a suggestion, operators as written, unknown
// functions named as such.
func (e *exprEnv) issues(src string, errs []*common.Error) []exprIssue {
	var out, funcs []exprIssue
	for _, ce := range errs {
		msg := strings.ReplaceAll(ce.Message, " (in container '')", "")
		line, col := 0, -1
		if ce.Location != nil {
			line, col = ce.Location.Line(), ce.Location.Column()
		}
		switch m := undeclaredRef.FindStringSubmatch(msg); {
		case m != nil && isCall(src, line, col, m[1]):
			msg = fmt.Sprintf("unknown function %s(): only CEL's operators and standard functions, days() and hours() are available (macros such as all, exists, map and filter are not)", m[1])
			funcs = append(funcs, exprIssue{line: line, col: col, msg: msg})
			continue
		case m != nil:
			// CEL names only the first part of an unknown dotted name
			// ("call" for call.closes); read the whole name back.
			name := m[1]
			if full := qualifiedNameAt(src, line, col); strings.HasPrefix(full, name) {
				name = full
			}
			msg = fmt.Sprintf("unknown name %q", name) + suggest(name, e.names)
			if strings.HasPrefix(name, "fields.") || strings.HasPrefix(name, "attachments.") {
				msg += "; form fields are fields.<name>, and file fields are counted as attachments.<name>"
			}
		default:
			if m := noOverload.FindStringSubmatch(msg); m != nil {
				if op, isOp := operatorNames[m[1]]; isOp {
					msg = fmt.Sprintf("operator %s cannot be applied to %s", op, strings.ReplaceAll(m[2], ", ", " and "))
				} else {
					msg = fmt.Sprintf("%s() cannot be applied to (%s)", m[1], m[2])
				}
			}
			if strings.Contains(msg, "mismatched input '<EOF>'") {
				msg = "Syntax error: the rule ends too early"
			} else if loc := expecting.FindStringIndex(msg); loc != nil && len(msg)-loc[0] > 40 {
				msg = msg[:loc[0]]
			}
		}
		out = append(out, exprIssue{line: line, col: col, msg: msg})
	}
	if len(funcs) > 0 {
		// The arguments of an unknown function or macro (such as the x of
		// exists(x, ...)) would only repeat the problem.
		out = funcs
	}
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}

// isCall reports whether name, at or after line/col of src, is followed by
// an opening parenthesis: a function call rather than a variable.
func isCall(src string, line, col int, name string) bool {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) || col < 0 {
		return false
	}
	runes := []rune(lines[line-1])
	if col > len(runes) {
		return false
	}
	rest := string(runes[col:])
	i := strings.Index(rest, name)
	if i < 0 {
		// The location may be at the call's parenthesis, after the name.
		before := string(runes[:col])
		return strings.HasSuffix(strings.TrimRight(before, " "), name) && strings.HasPrefix(strings.TrimLeft(rest, " "), "(")
	}
	return strings.HasPrefix(strings.TrimLeft(rest[i+len(name):], " "), "(")
}

func costString(c uint64) string {
	if c >= math.MaxUint64/2 {
		return "unbounded"
	}
	return fmt.Sprint(c)
}

// sizeEstimator tells CEL's cost estimator how long each string variable
// can be: form fields by their max_len, the rest by their fixed vocabulary.
type sizeEstimator struct {
	sizes map[string]uint64
}

// EstimateSize bounds the length of the string variables it knows.
func (s sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	if size, ok := s.sizes[strings.Join(p, ".")]; ok {
		return &checker.SizeEstimate{Min: 0, Max: size}
	}
	return nil
}

// EstimateCallCost leaves every call to CEL's own estimates.
func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// errNotBool is returned when an expression does not give a bool at run time.
var errNotBool = errors.New("expression did not give true or false")

// evalBool evaluates a bool expression. Any failure (a division by zero, an
// overflowing timestamp, the cost limit) is returned as an error; it never
// panics.
func (x *expr) evalBool(act interpreter.Activation) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("evaluation failed: %v", p)
		}
	}()
	out, _, err := x.prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, errNotBool
	}
	return bool(b), nil
}

// evalTime evaluates a timestamp expression.
func (x *expr) evalTime(act interpreter.Activation) (t time.Time, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = time.Time{}, fmt.Errorf("evaluation failed: %v", p)
		}
	}()
	out, _, err := x.prg.Eval(act)
	if err != nil {
		return time.Time{}, err
	}
	ts, isTS := out.(types.Timestamp)
	if !isTS {
		return time.Time{}, errors.New("expression did not give a timestamp")
	}
	return ts.Time, nil
}

// activation resolves the engine's variables for one evaluation from the
// subject and environment, without building a map.
type activation struct {
	d   *Definition
	s   *Subject
	env *Env
	// complete is computed on first use: it checks the whole form.
	completeKnown, complete bool
}

func newActivation(d *Definition, s *Subject, env *Env) *activation {
	return &activation{d: d, s: s, env: env}
}

// Parent returns nil: the activation holds every variable itself.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveName returns the value of one of the engine's variables.
func (a *activation) ResolveName(name string) (any, bool) {
	s := a.s
	switch name {
	case "now":
		return types.Timestamp{Time: a.env.Now}, true
	case "entered_at":
		return types.Timestamp{Time: s.EnteredAt}, true
	case "review_due":
		return types.Timestamp{Time: a.d.reviewDue(s.State, s.EnteredAt)}, true
	case "call.opens_at":
		return types.Timestamp{Time: a.env.Call.OpensAt}, true
	case "call.closes_at":
		return types.Timestamp{Time: a.env.Call.ClosesAt}, true
	case "call.term_start":
		return types.Timestamp{Time: a.env.Call.TermStart}, true
	case "call.seats":
		return types.Int(a.env.Call.Seats), true
	case "call.required_endorsements":
		return types.Int(a.env.Call.RequiredEndorsements), true
	case "call.nominator_quota":
		return types.Int(a.env.Call.NominatorQuota), true
	case "complete":
		if !a.completeKnown {
			a.complete, a.completeKnown = len(a.d.Incomplete(*s)) == 0, true
		}
		return types.Bool(a.complete), true
	case "endorsements":
		return types.Int(s.Endorsements), true
	case "consent":
		return types.String(s.Consent), true
	case "consecutive_terms":
		return types.Int(s.ConsecutiveTerms), true
	case "round":
		return types.Int(s.Round), true
	case "state":
		return types.String(s.State), true
	case "terms.years":
		return types.Int(a.d.Terms.Years), true
	case "terms.max_consecutive":
		return types.Int(a.d.Terms.MaxConsecutive), true
	case "tally.approve":
		return types.Int(s.Tally.Approve), true
	case "tally.reject":
		return types.Int(s.Tally.Reject), true
	case "tally.request_changes":
		return types.Int(s.Tally.RequestChanges), true
	case "tally.recuse":
		return types.Int(s.Tally.Recuse), true
	case "tally.eligible":
		return types.Int(s.Tally.Eligible), true
	case "tally.votes":
		return types.Int(s.Tally.Votes()), true
	case "tally.pending":
		return types.Int(s.Tally.Pending()), true
	case "tally.scored":
		return types.Int(s.Tally.Scored), true
	case "tally.score_sum":
		return types.Double(s.Tally.ScoreSum), true
	case "tally.score_avg":
		return types.Double(s.Tally.ScoreAvg()), true
	}
	if rest, ok := strings.CutPrefix(name, NominatorPrefix); ok {
		return s.Nominator.resolve(rest, true)
	}
	if rest, ok := strings.CutPrefix(name, NomineePrefix); ok {
		return s.Nominee.resolve(rest, false)
	}
	if f, ok := strings.CutPrefix(name, "fields."); ok {
		field, found := a.d.fieldIndex[f]
		if !found {
			return nil, false
		}
		v := s.Fields[f]
		if field.Type == TypeBool {
			b, _ := v.(bool)
			return types.Bool(b), true
		}
		str, _ := v.(string)
		return types.String(str), true
	}
	if f, ok := strings.CutPrefix(name, "attachments."); ok {
		if _, found := a.d.fieldIndex[f]; !found {
			return nil, false
		}
		return types.Int(s.Attachments[f]), true
	}
	return nil, false
}

// reviewDue returns when the review of state is due for a stay that began
// at enteredAt, or enteredAt when the state holds no review.
func (d *Definition) reviewDue(state string, enteredAt time.Time) time.Time {
	if st, ok := d.States[state]; ok && st.Review != nil {
		return enteredAt.Add(st.Review.Due)
	}
	return enteredAt
}

// resolve returns the value of one person fact, named without its
// nominator. or nominee. prefix.
func (p *PersonFacts) resolve(name string, nominator bool) (any, bool) {
	switch name {
	case "roles":
		if !nominator {
			return nil, false
		}
		return types.NewStringList(types.DefaultTypeAdapter, p.Roles), true
	case "stakeholder_group":
		return types.String(p.StakeholderGroup), true
	case "nominations":
		if !nominator {
			return nil, false
		}
		return types.Int(p.Nominations), true
	case "self":
		if nominator {
			return nil, false
		}
		return types.Bool(p.Self), true
	}
	fact, body, ok := strings.Cut(name, ".")
	if !ok {
		return nil, false
	}
	b := p.Bodies[body]
	switch fact {
	case "terms":
		return types.Int(b.Terms), true
	case "member":
		return types.Bool(b.Member), true
	case "group":
		return types.String(b.Group), true
	}
	return nil, false
}
