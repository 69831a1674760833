package nomination

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/phrase"
	"github.com/igf/nomina/internal/workflow"
)

// CallInput is what the secretariat sends to open or change a call. Nil
// pointers leave a value unchanged on update.
type CallInput struct {
	Slug      string
	Title     *string
	Workflow  string
	OpensAt   *time.Time
	ClosesAt  *time.Time
	TermStart *time.Time
	Seats     *int
	Targets   json.RawMessage
	// RequiredEndorsements and NominatorQuota tighten the workflow: see
	// Call.
	RequiredEndorsements *int
	NominatorQuota       *int
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`)

// CreateCall opens a call. Errors: EFORBIDDEN unless staff, EINVALID with
// the field named, ECONFLICT when the slug is taken.
func (s *Service) CreateCall(ctx context.Context, actor Actor, in CallInput) (Call, error) {
	if !actor.IsStaff() {
		return Call{}, Fail(EFORBIDDEN, "SecretariatOpensCalls", "only the secretariat opens calls")
	}
	var fields []FieldError
	bad := func(f, id, m string, args ...any) { fields = append(fields, Problem(f, id, m, args...)) }
	if !slugPattern.MatchString(in.Slug) {
		bad("slug", "SlugFormat", "3 to 64 lower-case letters, digits and dashes, starting and ending with a letter or digit")
	}
	def, ok := s.Workflows.Latest(in.Workflow)
	if !ok {
		bad("workflow", "NoSuchWorkflow", "no such workflow")
	}
	c := Call{Slug: in.Slug, CreatedBy: actor.UserID}
	if def != nil {
		c.Workflow, c.WorkflowVersion = def.ID, def.Version
	}
	if in.Title == nil || strings.TrimSpace(*in.Title) == "" {
		bad("title", "RequiredShort", "required")
	}
	if in.OpensAt == nil {
		bad("opens_at", "RequiredShort", "required")
	}
	if in.ClosesAt == nil {
		bad("closes_at", "RequiredShort", "required")
	}
	if in.Seats == nil {
		bad("seats", "RequiredShort", "required")
	}
	if def != nil && in.TermStart == nil {
		for _, st := range def.States {
			if st.CreatesMember {
				bad("term_start", "TermStartRequired", "required: appointments from this call start terms on that date")
				break
			}
		}
	}
	if len(fields) > 0 {
		return Call{}, Invalidf("CallInvalid", "the call is invalid", fields...)
	}
	now := s.now()
	c.CreatedAt, c.UpdatedAt, c.Version = now, now, 1
	if err := s.applyCallInput(&c, in, def); err != nil {
		return Call{}, err
	}
	if err := s.Store.CreateCall(ctx, c); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return Call{}, Fail(ECONFLICT, "SlugExists", "a call with this slug exists").With(Problem("slug", "Taken", "taken"))
		}
		return Call{}, err
	}
	return c, nil
}

// MaxRequiredEndorsements bounds the endorsements a call may ask for.
const MaxRequiredEndorsements = 20

// applyCallInput sets in's values on c, checking each; def is the call's
// workflow, whose quota a call may lower but not raise.
func (s *Service) applyCallInput(c *Call, in CallInput, def *workflow.Definition) error {
	var fields []FieldError
	bad := func(f, id, m string, args ...any) { fields = append(fields, Problem(f, id, m, args...)) }
	if in.Title != nil {
		t, msg := oneline.Clean(*in.Title, 1, 200)
		if msg.English != "" {
			fields = append(fields, ProblemText("title", msg))
		}
		c.Title = t
	}
	if in.OpensAt != nil {
		c.OpensAt = in.OpensAt.UTC().Truncate(time.Millisecond)
	}
	if in.ClosesAt != nil {
		c.ClosesAt = in.ClosesAt.UTC().Truncate(time.Millisecond)
	}
	if in.TermStart != nil {
		c.TermStart = in.TermStart.UTC().Truncate(time.Millisecond)
	}
	if !c.OpensAt.Before(c.ClosesAt) {
		bad("closes_at", "ClosesAfterOpens", "must be after opens_at")
	}
	if c.OpensAt.Year() < 2000 || c.ClosesAt.Year() > 2200 {
		bad("opens_at", "OutOfRange", "out of range")
	}
	if in.Seats != nil {
		if *in.Seats < 1 || *in.Seats > 1000 {
			bad("seats", "SeatsRange", "between 1 and 1000")
		}
		c.Seats = *in.Seats
	}
	if in.RequiredEndorsements != nil {
		if *in.RequiredEndorsements < 0 || *in.RequiredEndorsements > MaxRequiredEndorsements {
			bad("required_endorsements", "EndorsementsRange", "between 0 (none) and {{.Max}}", "Max", MaxRequiredEndorsements)
		}
		c.RequiredEndorsements = *in.RequiredEndorsements
	}
	if in.NominatorQuota != nil {
		q := *in.NominatorQuota
		switch {
		case q < 0 || q > 1000:
			bad("nominator_quota", "QuotaRange", "between 0 (the workflow's) and 1000")
		case def != nil && def.Starting.Quota > 0 && q > def.Starting.Quota:
			bad("nominator_quota", "QuotaAboveWorkflow", "at most {{.Quota}}: the workflow allows each nominator {{.Quota}} nominations, and a call may only lower that", "Quota", def.Starting.Quota)
		}
		c.NominatorQuota = q
	}
	if len(in.Targets) > 0 && string(in.Targets) != "null" {
		if len(in.Targets) > 64<<10 {
			bad("targets", "TooLarge", "too large")
		} else if s.ValidateTargets != nil {
			if err := s.ValidateTargets(in.Targets); err != nil {
				if de, ok := err.(*Error); ok && len(de.Fields) > 0 {
					for _, f := range de.Fields {
						f.Field = "targets." + strings.TrimPrefix(f.Field, "targets.")
						fields = append(fields, f)
					}
				} else {
					fields = append(fields, ProblemText("targets", phrase.Plain(err.Error())))
				}
			}
		} else {
			var probe map[string]any
			if json.Unmarshal(in.Targets, &probe) != nil {
				bad("targets", "MustBeObject", "must be an object")
			}
		}
		c.Targets = append(json.RawMessage(nil), in.Targets...)
	}
	if len(fields) > 0 {
		return Invalidf("CallInvalid", "the call is invalid", fields...)
	}
	return nil
}

// UpdateCall changes a call's title, dates, seats or targets. Errors:
// EFORBIDDEN, ENOTFOUND, EINVALID.
func (s *Service) UpdateCall(ctx context.Context, actor Actor, slug string, in CallInput) (Call, error) {
	if !actor.IsStaff() {
		return Call{}, Fail(EFORBIDDEN, "SecretariatChangesCalls", "only the secretariat changes calls")
	}
	// Each change commits as the call's next revision; one that loses the
	// race reloads and applies its change again.
	for attempt := 0; attempt < s.MaxAttempts; attempt++ {
		c, err := s.Store.GetCall(ctx, slug)
		if err != nil {
			return Call{}, err
		}
		if in.Workflow != "" && in.Workflow != c.Workflow {
			return Call{}, Invalid(Problem("workflow", "CallWorkflowFixed", "the workflow of a call cannot change"))
		}
		// New nominations follow the latest version: its quota bounds the
		// call's.
		def, _ := s.Workflows.Latest(c.Workflow)
		if err := s.applyCallInput(&c, in, def); err != nil {
			return Call{}, err
		}
		c.UpdatedAt = s.now()
		c.Version++
		err = s.Store.ReplaceCall(ctx, c)
		if ErrorCode(err) == ECONFLICT {
			s.backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return Call{}, err
		}
		return c, nil
	}
	return Call{}, Fail(ECONFLICT, "CallKeptChanging", "the call kept changing while your change was applied; try again")
}

// visible reports whether actor may see call c at now: the secretariat
// every call; other signed-in users the calls that have opened, open or
// closed (their nominations may belong to a past one); anonymous callers
// the open ones. A call not yet open is the secretariat's until it opens.
func visible(actor *Actor, c Call, now time.Time) bool {
	switch {
	case actor != nil && actor.IsStaff():
		return true
	case actor != nil:
		return !now.Before(c.OpensAt)
	default:
		return c.IsOpen(now)
	}
}

// GetCall returns a call the actor may see (see ListCalls); ENOTFOUND
// otherwise.
func (s *Service) GetCall(ctx context.Context, actor *Actor, slug string) (Call, error) {
	c, err := s.Store.GetCall(ctx, slug)
	if err != nil {
		return Call{}, err
	}
	if !visible(actor, c, s.now()) {
		return Call{}, Fail(ENOTFOUND, "NoSuchCall", "no such call")
	}
	return c, nil
}

// ListCalls returns the calls actor may see, latest opening first: all of
// them for the secretariat, those that have opened for other signed-in
// users, the open ones for anonymous callers (actor nil).
func (s *Service) ListCalls(ctx context.Context, actor *Actor) ([]Call, error) {
	all, err := s.Store.ListCalls(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := all[:0]
	for _, c := range all {
		if visible(actor, c, now) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpensAt.After(out[j].OpensAt) })
	return out, nil
}

// cleanText reports whether s holds no control characters other than
// newline and tab.
func cleanText(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}
