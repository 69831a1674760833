package mongostore_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// claimFn claims the attempts refs name at now: the batched path
// (ClaimAll) or the single one (Claim, one reference at a time).
type claimFn func(q *mongostore.MailQueue, refs []string, worker string, now time.Time) []nomination.MailAttempt

func claimBatch(t *testing.T) claimFn {
	return func(q *mongostore.MailQueue, refs []string, worker string, now time.Time) []nomination.MailAttempt {
		t.Helper()
		as, err := q.ClaimAll(context.Background(), refs, worker, now, time.Minute)
		if err != nil {
			t.Fatalf("claim all %v: %v", refs, err)
		}
		return as
	}
}

func claimSingle(t *testing.T) claimFn {
	return func(q *mongostore.MailQueue, refs []string, worker string, now time.Time) []nomination.MailAttempt {
		t.Helper()
		var out []nomination.MailAttempt
		for _, ref := range refs {
			a, err := q.Claim(context.Background(), ref, worker, now, time.Minute)
			switch nomination.ErrorCode(err) {
			case "":
				out = append(out, a)
			case nomination.ECONFLICT, nomination.ENOTFOUND:
			default:
				t.Fatalf("claim %s: %v", ref, err)
			}
		}
		return out
	}
}

// A worker that polls between the two writes of an enqueue (the schedule
// entry, then the job) claims the first attempt and finds no job. It gives
// the attempt back at once: as soon as the job is written its mail is
// claimable, not a lease later, and it is delivered exactly once, as its
// first try; no poll after that, the lease run out or not, claims it again.
func TestMailJobWrittenAfterItsScheduleIsClaimableAtOnce(t *testing.T) {
	forMailPaths(t, func(t *testing.T, store string) {
		for _, path := range []struct {
			name  string
			claim func(*testing.T) claimFn
		}{{"batch", claimBatch}, {"single", claimSingle}} {
			t.Run(path.name, func(t *testing.T) {
				db := storetest.NewDatabase(t)
				q := mailQueueOver(t, store, db)
				claim := path.claim(t)
				ctx := context.Background()
				job := mailJob("j", mailT0)
				// The enqueue's first write, and not yet its second.
				_, err := db.Collection("mail_due").InsertOne(ctx, bson.D{
					{Key: "_id", Value: "j/0001"}, {Key: "job_id", Value: "j"}, {Key: "attempt", Value: 1}, {Key: "at", Value: mailT0},
				})
				if err != nil {
					t.Fatal(err)
				}
				now := mailT0.Add(time.Second)
				if got := claim(q, mustRefs(t, q, now), "early", now); len(got) != 0 {
					t.Fatalf("claimed %+v before the job was written", got)
				}
				// The enqueue's second write (its first is repeated harmlessly).
				mustMailEnqueue(t, q, job)
				now = now.Add(100 * time.Millisecond)
				refs := mustRefs(t, q, now)
				got := claim(q, refs, "next", now)
				if len(got) != 1 || got[0].Record.Job.ID != "j" {
					t.Fatalf("right after the job was written, due %v, claimed %+v; want its attempt at once", refs, got)
				}
				a := got[0]
				if a.Try != 1 {
					t.Fatalf("attempt %d is try %d, want the first try", a.Number, a.Try)
				}
				if err := q.MarkSent(ctx, "j", a.Number, "<j@nomina>", now); err != nil {
					t.Fatal(err)
				}
				for _, later := range []time.Time{now, now.Add(2 * time.Minute), now.Add(2 * time.Hour)} {
					if again := claim(q, mustRefs(t, q, later), "late", later); len(again) != 0 {
						t.Fatalf("at %v claimed again after delivery: %+v", later, again)
					}
				}
				mustMailDue(t, q, now.Add(3*time.Hour))
				if rec := mustMailGet(t, q, "j"); rec.Status != nomination.MailSent || rec.Attempts != a.Number || rec.MessageID != "<j@nomina>" {
					t.Fatalf("job after delivery: %+v", rec)
				}
			})
		}
	})
}
