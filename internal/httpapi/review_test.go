package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// inReview returns a MAG nomination of group admitted to its panel, and
// the panel's reviewers.
func (st *stack) inReview(group string, reviewers int) (nominationBody, account, []account) {
	st.tb.Helper()
	sec := st.secretariat("sec-" + group + "@igf.example")
	slug := "mag-" + group[:3]
	st.mustCall(sec, slug, "mag")
	var revs []account
	for i := 0; i < reviewers; i++ {
		revs = append(revs, st.reviewer(fmt.Sprintf("r%02d-%s@example.org", i, group), fmt.Sprintf("Org %d", i), group))
	}
	cand := st.candidate("cand-" + group + "@example.org")
	n := st.mustSubmitted(cand, slug, group)
	mustStatus(st.tb, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), http.StatusOK, &n)
	return n, cand, revs
}

func (st *stack) vote(who account, id, decision, comment string) int {
	st.tb.Helper()
	body := map[string]any{"decision": decision}
	if comment != "" {
		body["comment"] = comment
	}
	return st.call("POST", "/api/v1/nominations/"+id+"/votes", who, body).Code
}

// transitions returns the events that left the state from: actions,
// overrides, and the votes or declarations that settled a review.
func transitions(evs []nomination.Event, from string) []nomination.Event {
	var out []nomination.Event
	for _, e := range evs {
		if e.From == from && e.To != "" && e.To != from {
			out = append(out, e)
		}
	}
	return out
}

// decisionTally returns the tally a decision was taken on.
func decisionTally(tb testing.TB, e nomination.Event) map[string]float64 {
	tb.Helper()
	var d struct {
		Tally   map[string]any `json:"tally"`
		Outcome *struct {
			Tally map[string]any `json:"tally"`
		} `json:"outcome"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		tb.Fatal(err)
	}
	t := d.Tally
	if d.Outcome != nil {
		t = d.Outcome.Tally
	}
	out := map[string]float64{}
	for k, v := range t {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	if t["decided_by"] != "system" {
		tb.Fatalf("decision not taken by the rules: %s", e.Data)
	}
	return out
}

// Thirty reviewers vote at the same moment: each vote is answered 201, or
// 409 once the stage is left; every accepted vote is in the history once;
// exactly one decision exists, taken on a tally that meets the rule.
func TestConcurrentVotesDecideExactlyOnce(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(strconv.Itoa(instances)+" instances", func(t *testing.T) {
			st := newStack(t)
			n, _, revs := st.inReview("civil_society", 30)
			stacks := []*stack{st}
			if instances == 2 {
				stacks = append(stacks, newStackOn(t, storetest.Connect(t, st.db.Name()), st.clock))
			}
			var wg sync.WaitGroup
			codes := make([]int, len(revs))
			start := make(chan struct{})
			for i, r := range revs {
				wg.Add(1)
				go func(i int, r account) {
					defer wg.Done()
					<-start
					codes[i] = stacks[i%len(stacks)].vote(r, n.ID, "approve", "")
				}(i, r)
			}
			close(start)
			wg.Wait()
			accepted := map[string]bool{}
			for i, c := range codes {
				switch c {
				case 201:
					accepted[revs[i].ID] = true
				case 409:
				default:
					t.Errorf("reviewer %d: status %d", i, c)
				}
			}
			evs := st.mustConsistent(n.ID)
			stored := map[string]int{}
			for _, e := range evs {
				if e.Type == nomination.EvVote {
					var v nomination.Vote
					_ = json.Unmarshal(e.Data, &v)
					stored[v.Reviewer]++
				}
			}
			for id := range accepted {
				if stored[id] != 1 {
					t.Errorf("accepted vote of %s stored %d times", id, stored[id])
				}
			}
			if len(stored) != len(accepted) {
				t.Errorf("%d votes stored, %d accepted", len(stored), len(accepted))
			}
			dec := transitions(evs, "panel_review")
			if len(dec) != 1 {
				t.Fatalf("%d decisions, want exactly 1", len(dec))
			}
			tally := decisionTally(t, dec[0])
			approve, reject, eligible := tally["approve"], tally["reject"], tally["eligible"]
			pending := eligible - approve - reject - tally["recuse"] - tally["request_changes"]
			if !(approve >= 2 && approve > reject+pending) {
				t.Fatalf("decided on %v: the rule does not hold", tally)
			}
			// Votes after the decision were refused, none lost silently.
			if int(approve) > len(accepted) {
				t.Fatalf("decision counted %v approvals but only %d votes were accepted", approve, len(accepted))
			}
		})
	}
}

func TestSameVoteTwentyTimesIsStoredOnce(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("government", 5)
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- st.vote(revs[0], n.ID, "approve", "")
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != 19 {
		t.Fatalf("statuses %v, want one 201 and nineteen 409", count)
	}
	votes := 0
	for _, e := range st.mustConsistent(n.ID) {
		if e.Type == nomination.EvVote {
			votes++
		}
	}
	if votes != 1 {
		t.Fatalf("%d votes stored", votes)
	}
}

func TestConflictedReviewer(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("private_sector", 3)
	// The candidate works for "Kenya ICT Action Network"; a reviewer from
	// the same organisation is conflicted without declaring it.
	sameOrg := st.reviewer("colleague@example.org", "Kenya ICT Action Network", "private_sector")
	if code := st.vote(sameOrg, n.ID, "approve", ""); code != http.StatusForbidden {
		t.Fatalf("same-organisation reviewer voted: %d", code)
	}
	if code := st.vote(revs[0], n.ID, "approve", ""); code != 201 {
		t.Fatalf("vote: %d", code)
	}
	// revs[1] declares a conflict: no vote, no sight of the votes.
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/conflicts", revs[1], map[string]any{"reason": "Former employer"}), http.StatusCreated, nil)
	if code := st.vote(revs[1], n.ID, "approve", ""); code != http.StatusForbidden {
		t.Fatalf("conflicted reviewer voted: %d", code)
	}
	var seen nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, revs[1], nil), 200, &seen)
	if len(seen.Votes) != 0 {
		t.Fatalf("conflicted reviewer sees %d votes", len(seen.Votes))
	}
	// A reviewer without conflict sees the others' votes of the round
	// after casting their own.
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, revs[2], nil), 200, &seen)
	if len(seen.Votes) != 0 {
		t.Fatalf("a reviewer who has not voted sees %d votes, want 0", len(seen.Votes))
	}
	if rec := st.call("GET", "/api/v1/nominations/"+n.ID, revs[2], nil); strings.Contains(rec.Body.String(), "cand-private_sector@example.org") {
		t.Fatalf("a reviewer reads the candidate's address: %s", rec.Body.String())
	}
	if _, ok := seen.Fields["gender"]; ok {
		t.Fatalf("reviewers see gender although the workflow does not show it: %v", seen.Fields)
	}
	// Eligible are revs[0] and revs[2] (the conflicted two excluded): a
	// second approval decides.
	if code := st.vote(revs[2], n.ID, "approve", ""); code != 201 {
		t.Fatalf("vote: %d", code)
	}
	var after nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, revs[2], nil), 200, &after)
	if len(after.Votes) != 2 {
		t.Fatalf("a reviewer without conflict sees %d votes after voting, want 2", len(after.Votes))
	}
	dec := transitions(st.mustConsistent(n.ID), "panel_review")
	if len(dec) != 1 {
		t.Fatalf("no decision with 2 of 2 eligible approvals")
	}
	if tally := decisionTally(t, dec[0]); tally["eligible"] != 2 {
		t.Fatalf("quorum counted %v eligible, want 2 (conflicts excluded)", tally["eligible"])
	}
	hist := st.mustHistory(revs[0], n.ID)
	found := false
	for _, e := range hist {
		found = found || e.Type == nomination.EvConflict
		if (e.Type == nomination.EvCreated || e.Type == nomination.EvFieldsUpdated) && !e.Redacted {
			t.Fatalf("a reviewer reads the form's answers in the history: %s", e.Data)
		}
	}
	if !found {
		t.Fatal("the declaration is not in the history")
	}
	// The conflicted reviewer sees that votes happened, not what they were.
	for _, e := range st.mustHistory(revs[1], n.ID) {
		if e.Type == nomination.EvVote && !e.Redacted {
			t.Fatalf("a conflicted reviewer reads a vote: %s", e.Data)
		}
	}
	for _, e := range st.mustHistory(st.login(account{Email: "cand-private_sector@example.org"}), n.ID) {
		if e.Type == nomination.EvVote && !e.Redacted {
			t.Fatalf("the candidate reads a reviewer's vote: %s", e.Data)
		}
	}
}

// Tallies over three reviewers, with recusals and conflicts: which votes
// settle the stage, and how.
func TestReviewOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		conflicts int
		votes     []string
		want      string // state after the votes
	}{
		{"two approvals of three", 0, []string{"approve", "approve"}, "secretariat_review"},
		{"one approval is not enough", 0, []string{"approve"}, "panel_review"},
		{"recusal does not count for", 0, []string{"approve", "recuse", "approve"}, "secretariat_review"},
		{"two rejections decide", 0, []string{"reject", "reject"}, "not_selected"},
		{"recusals leave too few", 0, []string{"recuse", "recuse"}, "not_selected"},
		{"conflict shrinks the quorum", 1, []string{"approve", "approve"}, "secretariat_review"},
		{"split vote with conflict fails", 1, []string{"approve", "reject"}, "not_selected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t)
			n, _, revs := st.inReview("technical_community", 3)
			for i := 0; i < tc.conflicts; i++ {
				mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/conflicts", revs[2-i], map[string]any{"reason": "Co-author"}), 201, nil)
			}
			for i, v := range tc.votes {
				if code := st.vote(revs[i], n.ID, v, ""); code != 201 {
					t.Fatalf("vote %d (%s): %d", i, v, code)
				}
			}
			var got nominationBody
			sec := st.secretariat("sec2@igf.example")
			mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), 200, &got)
			if got.State != tc.want {
				t.Fatalf("state %s, want %s", got.State, tc.want)
			}
		})
	}
}

func TestRequestChangesStartsANewRound(t *testing.T) {
	st := newStack(t)
	n, cand, revs := st.inReview("civil_society", 3)
	if code := st.vote(revs[0], n.ID, "approve", ""); code != 201 {
		t.Fatalf("vote: %d", code)
	}
	if code := st.vote(revs[1], n.ID, "request_changes", ""); code != http.StatusUnprocessableEntity {
		t.Fatalf("request_changes without a comment: %d", code)
	}
	if code := st.vote(revs[1], n.ID, "request_changes", "Please add your IGF experience."); code != 201 {
		t.Fatalf("request_changes: %d", code)
	}
	var got nominationBody
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, cand, nil), 200, &got)
	if got.State != "draft" || got.LastComment != "Please add your IGF experience." {
		t.Fatalf("back to the candidate: state %s comment %q", got.State, got.LastComment)
	}
	mustStatus(t, st.call("PATCH", "/api/v1/nominations/"+n.ID, cand, map[string]any{"fields": map[string]any{"igf_experience": "Three IGFs as a speaker."}}, "If-Match", "*"), 200, nil)
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/submit", cand, nil), 200, nil)
	sec := st.secretariat("sec3@igf.example")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/actions/admit", sec, nil), 200, &got)
	if got.Round != 2 {
		t.Fatalf("round %d after resubmission, want 2", got.Round)
	}
	// Round-1 votes no longer count: one new approval does not decide, and
	// the first reviewer may vote again.
	if code := st.vote(revs[0], n.ID, "approve", ""); code != 201 {
		t.Fatalf("round-2 vote of a round-1 voter: %d", code)
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), 200, &got)
	if got.State != "panel_review" {
		t.Fatalf("decided on %s with one round-2 approval", got.State)
	}
	if code := st.vote(revs[2], n.ID, "approve", ""); code != 201 {
		t.Fatalf("vote: %d", code)
	}
	mustStatus(t, st.call("GET", "/api/v1/nominations/"+n.ID, sec, nil), 200, &got)
	if got.State != "secretariat_review" {
		t.Fatalf("state %s after two round-2 approvals", got.State)
	}
}

func TestReviewerSeesOnlyOwnPanel(t *testing.T) {
	st := newStack(t)
	n, _, revsA := st.inReview("government", 2)
	other := st.reviewer("b@example.org", "", "private_sector")
	mustProblem(t, st.call("GET", "/api/v1/nominations/"+n.ID, other, nil), http.StatusNotFound)
	if code := st.vote(other, n.ID, "approve", ""); code != http.StatusNotFound {
		t.Fatalf("vote from another panel: %d", code)
	}
	var list struct{ Items []nominationBody }
	mustStatus(t, st.call("GET", "/api/v1/nominations", other, nil), 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("another panel lists %d", len(list.Items))
	}
	mustProblem(t, st.call("GET", "/api/v1/nominations?panel=government", other, nil), http.StatusForbidden)
	mustStatus(t, st.call("GET", "/api/v1/nominations", revsA[0], nil), 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != n.ID {
		t.Fatalf("the panel's queue: %+v", list.Items)
	}
	// A reviewer who is also a candidate sees their own nomination beside
	// the queue, and other panels' nominations still not.
	own := st.mustDraft(other, "mag-gov", magFields("civil_society"))
	list.Items = nil
	mustStatus(t, st.call("GET", "/api/v1/nominations?q=kenya", other, nil), 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != own.ID {
		t.Fatalf("a reviewer's own nominations: %+v", list.Items)
	}
}

func TestSecretariatOverride(t *testing.T) {
	st := newStack(t)
	n, _, _ := st.inReview("government", 2)
	sec := st.secretariat("boss@igf.example")
	mustProblem(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/override", sec, map[string]any{"action": "recommend"}), http.StatusUnprocessableEntity)
	var got nominationBody
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/override", sec, map[string]any{"action": "recommend", "reason": "Panel inactive"}), 200, &got)
	if got.State != "secretariat_review" {
		t.Fatalf("override to %s", got.State)
	}
	evs := st.mustConsistent(n.ID)
	last := evs[len(evs)-1]
	if last.Type != nomination.EvOverride {
		t.Fatalf("last event %s, want override", last.Type)
	}
}

// Review requests are checked again when they come to be sent: a reviewer
// who declared a conflict meanwhile is no longer addressed, nor anyone once
// the stage is left.
func TestReviewRequestsAreAddressedAtSendTime(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("government", 3)
	ctx := context.Background()
	recs, err := st.store.MailQueue().MailLog(ctx, n.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]nomination.MailJob{}
	for _, r := range recs {
		if r.Job.Template == "review_request" {
			requests[r.Job.RecipientID] = r.Job
		}
	}
	if len(requests) != 3 {
		t.Fatalf("%d review requests, want 3", len(requests))
	}
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/conflicts", revs[1], map[string]any{"reason": "My employer"}), 201, nil)
	for i, r := range revs {
		still, err := st.noms.StillAddressed(ctx, requests[r.ID])
		if err != nil {
			t.Fatal(err)
		}
		if still != (i != 1) {
			t.Fatalf("reviewer %d still addressed: %v", i, still)
		}
	}
	sec := st.secretariat("boss@igf.example")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/override", sec, map[string]any{"action": "recommend", "reason": "Enough views"}), 200, nil)
	if still, _ := st.noms.StillAddressed(ctx, requests[revs[0].ID]); still {
		t.Fatal("a review request still goes out after the stage was left")
	}
}
