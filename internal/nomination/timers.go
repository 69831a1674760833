package nomination

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// TimerStore keeps armed timers. PutTimer is idempotent (an existing id is
// not an error); ClaimTimer inserts a claim with a unique id and answers
// ECONFLICT when another instance holds it.
type TimerStore interface {
	PutTimer(ctx context.Context, t Timer) error
	DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error)
	ClaimTimer(ctx context.Context, claimID, owner string, at time.Time) error
	FinishTimer(ctx context.Context, id, status string) error
}

// Members creates the membership an appointment grants. It must be
// idempotent per nomination: a repeated call creates nothing new.
type Members interface {
	AppointFromNomination(ctx context.Context, n *Nomination, body string, years int, termStart time.Time) error
}

// timerID names the timer armed by event seq of a nomination, due at due.
func timerID(nominationID string, seq int, name string, due time.Time) string {
	return fmt.Sprintf("%s/%08d/%s/%d", nominationID, seq, name, due.UnixMilli())
}

// armTimers stores the timers an event arms.
func (s *Service) armTimers(ctx context.Context, n *Nomination, seq int, specs []TimerSpec) error {
	if s.Timers == nil {
		return nil
	}
	for _, t := range specs {
		err := s.Timers.PutTimer(ctx, Timer{ID: timerID(n.ID, seq, t.Name, t.Due), NominationID: n.ID, ArmedSeq: seq, Spec: t, Status: "pending"})
		if err != nil {
			return fmt.Errorf("arm timer %s of %s: %w", t.Name, n.ID, err)
		}
	}
	return nil
}

// TimerLease is how long a claim on a due timer keeps other instances off
// it; after it, a timer whose firing was interrupted is taken over.
const TimerLease = 2 * time.Minute

// FireDueTimers fires the timers due at the service's now and returns how
// many it fired. Instances share the work: each due timer is claimed by a
// unique insert per lease window, and firing is idempotent besides
// (deterministic mail ids, a state check before any transition), so a
// timer takes effect once per due time however many instances run.
func (s *Service) FireDueTimers(ctx context.Context, owner string) (int, error) {
	if s.Timers == nil {
		return 0, nil
	}
	now := s.now()
	due, err := s.Timers.DueTimers(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	fired := 0
	for _, t := range due {
		window := now.UnixMilli() / TimerLease.Milliseconds()
		err := s.Timers.ClaimTimer(ctx, t.ID+"@"+strconv.FormatInt(window, 10), owner, now)
		if ErrorCode(err) == ECONFLICT {
			continue
		}
		if err != nil {
			return fired, err
		}
		status, err := s.fireTimer(ctx, t)
		if err != nil {
			s.Logger.Warn("fire timer; retried after the lease", "timer", t.ID, "err", err)
			continue
		}
		if err := s.Timers.FinishTimer(ctx, t.ID, status); err != nil {
			return fired, err
		}
		if status == "done" {
			fired++
		}
	}
	return fired, nil
}

// fireTimer carries out one due timer and says how it ended: done, or void
// when its state was left (or entered again since it was armed).
func (s *Service) fireTimer(ctx context.Context, t Timer) (string, error) {
	n, err := s.load(ctx, t.NominationID)
	if err != nil {
		return "", err
	}
	if n.State != t.Spec.State || n.EnteredSeq != t.ArmedSeq {
		return "void", nil
	}
	def, err := s.definition(n)
	if err != nil {
		return "", err
	}
	subj, env, err := s.subject(ctx, n, def, "")
	if err != nil {
		return "", err
	}
	out, err := def.FireTimer(subj, t.Spec.Name, t.Spec.Due, env)
	var ae *workflow.ActionError
	if errors.As(err, &ae) {
		s.Logger.Warn("timer refused by the workflow", "timer", t.ID, "err", err)
		return "void", nil
	}
	if err != nil {
		return "", err
	}
	if t.Spec.Kind == workflow.TimerReminder {
		// A reminder changes nothing: it mails (ids derived from the timer)
		// and arms its next time.
		call, err := s.Store.GetCall(ctx, n.CallSlug)
		if err != nil {
			return "", err
		}
		for _, e := range out.Effects {
			if e.Kind != workflow.EffectNotify {
				continue
			}
			to, err := s.audience(ctx, n, def, e.Audience)
			if err != nil {
				return "", err
			}
			for _, m := range to {
				if err := s.enqueueFor(ctx, n, def, call, t.ID, nil, e.Template, e.Audience, m, nil); err != nil {
					return "", err
				}
			}
		}
		next, _ := timerEffects(out.Effects)
		return "done", s.armTimers(ctx, n, t.ArmedSeq, next)
	}
	// An escalation fires its action as the system, once: the commit
	// checks the state again, and the unique seq settles races.
	_, _, err = s.commit(ctx, n.ID, func(cur *Nomination) (Event, error) {
		if cur.State != t.Spec.State || cur.EnteredSeq != t.ArmedSeq {
			return Event{}, errNoChange
		}
		subj, env, err := s.subject(ctx, cur, def, "")
		if err != nil {
			return Event{}, err
		}
		out, err := def.FireTimer(subj, t.Spec.Name, t.Spec.Due, env)
		if err != nil {
			return Event{}, err
		}
		ev := s.transition(cur, def, SystemActor.UserID, EvAction, out.Action, out.From, out.To, "", "", nil, env.Now, out.Effects)
		var d actionData
		_ = jsonUnmarshal(ev.Data, &d)
		d.Timer = t.Spec.Name
		for _, e := range out.Effects {
			if e.Kind == workflow.EffectNotify {
				d.Notify = append(d.Notify, NotifySpec{Audience: e.Audience, Template: e.Template})
			}
		}
		ev.Data = mustJSON(d)
		return ev, nil
	})
	if err != nil && err != errNoChange {
		return "", err
	}
	return "done", nil
}

// RunTimers fires due timers every interval until ctx ends.
func (s *Service) RunTimers(ctx context.Context, owner string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.FireDueTimers(ctx, owner); err != nil && ctx.Err() == nil {
			s.Logger.Warn("timers", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
