package nomination

import (
	"context"
	"errors"
	"slices"

	"github.com/igf/nomina/internal/phrase"
)

// BulkOutcome is what ActOnMany did with one nomination: Done when the
// action was taken; else NotAvailable (not possible in State), Reasons
// (the guards that failed, in the workflow's words) or Problem (the
// error that stopped it).
type BulkOutcome struct {
	ID           string
	Name         string
	State        string
	Done         bool
	NotAvailable bool
	Reasons      []string
	Problem      string
	// Why and ProblemText say Reasons and Problem in any language.
	Why         []phrase.Text `json:"-"`
	ProblemText phrase.Text   `json:"-"`
}

func (o BulkOutcome) failed() bool { return o.NotAvailable || len(o.Reasons) > 0 || o.Problem != "" }

// BulkResult reports an action taken on many nominations: how many were
// done and, for each that was not, why. Checked is true when the check
// before applying found a nomination the action cannot be taken on, so
// none was changed.
type BulkResult struct {
	Action   string
	Done     int
	Failed   int
	Outcomes []BulkOutcome
	Checked  bool
}

// MaxBulk bounds the nominations of one ActOnMany.
const MaxBulk = 500

// ActOnMany takes action on every nomination of ids, as Act would one by
// one, for the secretariat's one-step changes (shortlisting a suggested
// shortlist). It first checks that the action is available and allowed
// on each: when any is not, it changes none and reports each problem
// (Checked). Then it takes the action on each in turn; one that fails
// meanwhile (someone else moved it) is reported with its reason, never
// skipped silently. Errors: EFORBIDDEN for anyone but the secretariat,
// EINVALID for no ids or more than MaxBulk.
func (s *Service) ActOnMany(ctx context.Context, actor Actor, ids []string, action string, in ActionInput) (BulkResult, error) {
	res := BulkResult{Action: action}
	if !actor.IsStaff() {
		return res, Fail(EFORBIDDEN, "SecretariatBulkOnly", "only the secretariat acts on many nominations at once")
	}
	ids = slices.Compact(slices.Clone(ids))
	if len(ids) == 0 || len(ids) > MaxBulk {
		return res, Invalid(Problem("ids", "BulkCount", "1 to 500 nominations"))
	}
	for _, id := range ids {
		o := BulkOutcome{ID: id}
		v, err := s.Get(ctx, actor, id)
		switch {
		case err != nil:
			o.ProblemText = errorText(err)
			o.Problem = o.ProblemText.English
		default:
			o.Name, o.State = v.Nomination.Nominee.Name, v.Nomination.State
			o.NotAvailable = true
			for _, a := range v.Actions {
				if a.Name != action {
					continue
				}
				o.NotAvailable = false
				if !a.Allowed {
					o.Reasons, o.Why = slices.Clone(a.Reasons), slices.Clone(a.Why)
					if len(o.Reasons) == 0 {
						o.ProblemText = phrase.New("NotAllowedNow", "not allowed now")
						o.Problem = o.ProblemText.English
					}
				}
			}
		}
		if o.failed() {
			res.Checked = true
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	if res.Checked {
		for _, o := range res.Outcomes {
			if o.failed() {
				res.Failed++
			}
		}
		return res, nil
	}
	for i := range res.Outcomes {
		o := &res.Outcomes[i]
		if _, err := s.Act(ctx, actor, o.ID, action, in); err != nil {
			o.ProblemText = errorText(err)
			o.Problem = o.ProblemText.English
			res.Failed++
			continue
		}
		o.Done = true
		res.Done++
	}
	return res, nil
}

// errorText is the message of a domain error with its fields' messages.
func errorText(err error) phrase.Text {
	var de *Error
	if !errors.As(err, &de) {
		return phrase.New("InternalError", "internal error")
	}
	parts := []phrase.Text{textOf(de.Message, de.Text)}
	for _, f := range de.Fields {
		parts = append(parts, textOf(f.Message, f.Text))
	}
	return phrase.Join("; ", parts...)
}

// textOf is t, or message as a text without translation.
func textOf(message string, t phrase.Text) phrase.Text {
	if t.English == "" {
		return phrase.Plain(message)
	}
	return t
}
