package mongostore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// A batch given back unmade is recorded, its next attempts are made and
// recorded sent by another worker, then the first worker records its batch
// again (a retry after a timeout whose first try went through): no job is
// set back to its older state (the state is the fold of the results, and a
// result is never written twice).
func TestMailRecordMadeAgainKeepsLaterAttempts(t *testing.T) {
	db := storetest.NewDatabase(t)
	q := mongostore.New(db, nil).MailQueue()
	other := mongostore.New(storetest.Connect(t, db.Name()), nil).MailQueue()
	ctx := context.Background()
	const jobs = 10
	released, at := claimToRelease(t, q, jobs)
	if err := q.Record(ctx, released); err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Second)
	refs, err := other.Due(ctx, later, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.ClaimAll(ctx, refs, "fast", later, time.Minute)
	if err != nil || len(got) != jobs {
		t.Fatalf("claimed again %d (%v), want %d", len(got), err, jobs)
	}
	var sent []nomination.MailOutcome
	for _, a := range got {
		sent = append(sent, nomination.MailOutcome{JobID: a.Record.Job.ID, Attempt: a.Number, Try: a.Try,
			Status: nomination.MailSent, MessageID: "<" + a.Record.Job.ID + "@nomina>", At: later})
	}
	if err := other.Record(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(ctx, released); err != nil {
		t.Fatalf("record made again: %v", err)
	}
	for i := range jobs {
		id := fmt.Sprintf("r%02d", i)
		if r := mustMailGet(t, q, id); r.Status != nomination.MailSent || r.Attempts != 2 {
			t.Errorf("%s: status %s after %d attempt(s), want sent after 2", id, r.Status, r.Attempts)
		}
	}
}
