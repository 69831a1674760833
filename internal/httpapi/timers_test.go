package httpapi

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/nomination"
)

func countJobs(tb testing.TB, st *stack, template string) map[string]int {
	tb.Helper()
	cur, err := st.db.Collection("mail_jobs").Find(context.Background(), bson.D{{Key: "template", Value: template}})
	if err != nil {
		tb.Fatal(err)
	}
	var docs []struct {
		To string `bson:"to"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[d.To]++
	}
	return out
}

// The MAG review reminds reviewers who have not voted, three days before the
// review is due and daily after: once per due time however many instances
// run or restart, never to a reviewer who voted, never after the stage.
func TestReviewerRemindersFireOncePerDueTime(t *testing.T) {
	st := newStack(t)
	n, _, revs := st.inReview("civil_society", 3)
	ctx := context.Background()
	fire := func(s *stack) int {
		t.Helper()
		fired, err := s.noms.FireDueTimers(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		return fired
	}
	if fire(st) != 0 || len(countJobs(t, st, "review_reminder")) != 0 {
		t.Fatal("a reminder fired before its time")
	}
	st.clock.Advance(11*24*time.Hour + time.Minute) // due in 14 days: reminder at 11
	fire(st)
	got := countJobs(t, st, "review_reminder")
	if len(got) != 3 {
		t.Fatalf("reminders to %v, want the 3 reviewers", got)
	}
	// A restarted instance (a second one over the same store) at the same
	// moment fires nothing new.
	restarted := newStackOn(t, st.db, st.clock)
	fire(restarted)
	fire(st)
	for to, c := range countJobs(t, st, "review_reminder") {
		if c != 1 {
			t.Fatalf("%s reminded %d times for one due time", to, c)
		}
	}
	// One reviewer votes; the next day's reminder skips them.
	revs[0] = st.login(revs[0])
	if code := st.vote(revs[0], n.ID, "approve", ""); code != 201 {
		t.Fatalf("vote: %d", code)
	}
	st.clock.Advance(24 * time.Hour)
	fire(restarted)
	got = countJobs(t, st, "review_reminder")
	if got[revs[0].Email] != 1 || got[revs[1].Email] != 2 || got[revs[2].Email] != 2 {
		t.Fatalf("after one vote and a day: %v", got)
	}
	// The stage is left: no reminder after that.
	sec := st.secretariat("late@igf.example")
	mustStatus(t, st.call("POST", "/api/v1/nominations/"+n.ID+"/override", sec, map[string]any{"action": "recommend", "reason": "Enough views"}), 200, nil)
	st.clock.Advance(24 * time.Hour)
	fire(st)
	st.clock.Advance(5 * 24 * time.Hour) // past the due date: no escalation either
	fire(st)
	if after := countJobs(t, st, "review_reminder"); after[revs[1].Email] != 2 {
		t.Fatalf("reminded after the stage was left: %v", after)
	}
	if esc := countJobs(t, st, "review_overdue"); len(esc) != 0 {
		t.Fatalf("escalated a stage already left: %v", esc)
	}
}

// An overdue review escalates: the secretariat is told and the workflow's
// escalation action fires once.
func TestOverdueReviewEscalatesOnce(t *testing.T) {
	st := newStack(t)
	n, _, _ := st.inReview("government", 3)
	st.clock.Advance(14*24*time.Hour + time.Minute)
	for i := 0; i < 3; i++ {
		if _, err := st.noms.FireDueTimers(context.Background(), "test"); err != nil {
			t.Fatal(err)
		}
	}
	evs := st.mustConsistent(n.ID)
	dec := transitions(evs, "panel_review")
	if len(dec) != 1 || dec[0].Actor != "system" || dec[0].Type != nomination.EvAction {
		t.Fatalf("escalations: %+v", dec)
	}
	if len(countJobs(t, st, "review_overdue")) == 0 {
		t.Fatal("the secretariat was not told")
	}
}
