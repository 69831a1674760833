package workflow

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// overlapPanelSize is the largest panel checkOverlap tries. Review panels
// are small; seven members cover every shape of tally the rules can tell
// apart in practice.
const overlapPanelSize = 7

// checkOverlap tries pass_if and fail_if on every tally of panels of up to
// overlapPanelSize members and warns when both hold at once (pass_if would
// win, silently) or when pass_if never holds (no nomination could pass).
// Rules that depend on anything but the tally are not tried: their outcome
// depends on the nomination, which the loader cannot know.
func (b *builder) checkOverlap(at ast.Node, r *Review, what string) {
	d := b.def
	if !onlyTally(r.passIf) || (r.failIf != nil && !onlyTally(r.failIf)) {
		return
	}
	scores := []float64{0}
	if r.Score != nil {
		scores = scores[:0]
		if r.Score.Max-r.Score.Min <= 10 {
			for v := r.Score.Min; v <= r.Score.Max; v++ {
				scores = append(scores, float64(v))
			}
		} else {
			scores = append(scores, float64(r.Score.Min), float64(r.Score.Min+r.Score.Max)/2, float64(r.Score.Max))
		}
	}
	maxOf := func(option string) int {
		if contains(r.Options, option) {
			return overlapPanelSize
		}
		return 0
	}
	var env Env
	var s Subject
	act := newActivation(d, &s, &env)
	passes := false
	for eligible := 0; eligible <= overlapPanelSize; eligible++ {
		for ap := 0; ap <= min(eligible, maxOf(VoteApprove)); ap++ {
			for rj := 0; ap+rj <= eligible && rj <= maxOf(VoteReject); rj++ {
				for rc := 0; ap+rj+rc <= eligible && rc <= maxOf(VoteRequestChanges); rc++ {
					for rec := 0; ap+rj+rc+rec <= eligible && rec <= maxOf(VoteRecuse); rec++ {
						for _, avg := range scores {
							t := Tally{Approve: ap, Reject: rj, RequestChanges: rc, Recuse: rec, Eligible: eligible}
							if r.Score != nil {
								t.Scored = ap + rj
								t.ScoreSum = avg * float64(t.Scored)
							}
							s.Tally = t
							act.completeKnown = false
							pass, err1 := r.passIf.evalBool(act)
							if err1 != nil || !pass {
								continue
							}
							passes = true
							if r.failIf == nil {
								continue
							}
							if fail, err2 := r.failIf.evalBool(act); err2 == nil && fail {
								b.warnAt(at, "%s: pass_if and fail_if both hold for %s; pass_if wins", what, describeTally(t, r.Score != nil))
								return
							}
						}
					}
				}
			}
		}
	}
	if !passes {
		b.warnAt(at, "%s: pass_if holds for no tally of a panel of up to %d members", what, overlapPanelSize)
	}
}

// onlyTally reports whether an expression reads no variable but the tally.
func onlyTally(x *expr) bool {
	if x == nil {
		return false
	}
	for name := range x.refs {
		if !strings.HasPrefix(name, "tally.") {
			return false
		}
	}
	return true
}

func describeTally(t Tally, scored bool) string {
	s := fmt.Sprintf("eligible=%d approve=%d reject=%d request_changes=%d recuse=%d", t.Eligible, t.Approve, t.Reject, t.RequestChanges, t.Recuse)
	if scored {
		s += fmt.Sprintf(" score_avg=%g", t.ScoreAvg())
	}
	return s
}
