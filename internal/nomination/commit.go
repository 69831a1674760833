package nomination

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"time"
)

// load returns the nomination's projection caught up with its events: any
// event past the stored projection (a writer that crashed, or lost the race
// to write the projection) is folded in, its side effects derived again
// (idempotently) and the projection rewritten.
func (s *Service) load(ctx context.Context, id string) (*Nomination, error) {
	// Repairs finish even when the caller goes away.
	ctx = context.WithoutCancel(ctx)
	n, err := s.Store.GetNomination(ctx, id)
	switch ErrorCode(err) {
	case "":
	case ENOTFOUND:
		n = &Nomination{ID: id}
	default:
		return nil, err
	}
	repaired := false
	for {
		ev, err := s.Store.Event(ctx, id, n.Seq+1)
		if ErrorCode(err) == ENOTFOUND {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := Apply(n, ev); err != nil {
			return nil, fmt.Errorf("repair nomination %s: %w", id, err)
		}
		repaired = true
	}
	if n.Seq == 0 {
		return nil, Fail(ENOTFOUND, "NoSuchNomination", "no such nomination")
	}
	// Side effects not yet known to be done are derived (again: deriving
	// is idempotent).
	for n.DerivedSeq < n.Seq {
		ev, err := s.Store.Event(ctx, id, n.DerivedSeq+1)
		if err != nil {
			return nil, err
		}
		if err := s.derive(ctx, n, ev); err != nil {
			s.Logger.Warn("derive side effects; a later reader retries", "event", EventID(id, ev.Seq), "err", err)
			break
		}
		n.DerivedSeq = ev.Seq
		repaired = true
	}
	if repaired {
		s.put(ctx, n)
	}
	return n, nil
}

// put writes the projection, then looks for an event past it: a writer
// that put an older projection over a newer one sees the newer event and
// repairs its own overwrite.
func (s *Service) put(ctx context.Context, n *Nomination) {
	s.setPanels(n)
	if err := s.Store.PutNomination(ctx, n); err != nil {
		s.Logger.Warn("write projection; the next reader repairs it", "nomination", n.ID, "err", err)
		return
	}
	if _, err := s.Store.Event(ctx, n.ID, n.Seq+1); err == nil {
		if _, err := s.load(ctx, n.ID); err != nil {
			s.Logger.Warn("repair projection", "nomination", n.ID, "err", err)
		}
	}
}

// change is a decision taken on the current projection: the event to
// commit (without seq, time or hash), or an error that ends the attempt.
type change func(n *Nomination) (Event, error)

// errNoChange ends a commit without an event (the change is already there).
var errNoChange = errors.New("no change")

// commit applies decide to the current projection and appends the event it
// returns as seq+1. When another writer committed that seq first, it
// reloads and decides again, a bounded number of times, then answers
// ECONFLICT. It returns the projection after the event.
func (s *Service) commit(ctx context.Context, id string, decide change) (*Nomination, Event, error) {
	for attempt := 0; attempt < s.MaxAttempts; attempt++ {
		n, err := s.load(ctx, id)
		if err != nil {
			return nil, Event{}, err
		}
		ev, err := decide(n)
		if err != nil {
			return n, Event{}, err
		}
		ev.NominationID = id
		ev.Seq = n.Seq + 1
		ev.PrevHash = n.LastHash
		ev.At = s.now()
		if ev.At.Before(n.UpdatedAt) {
			ev.At = n.UpdatedAt // keep the history's times in order across clock skew
		}
		stampHash(&ev)
		err = s.Store.AppendEvent(ctx, ev)
		if ErrorCode(err) == ECONFLICT {
			s.backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return nil, Event{}, err
		}
		if err := s.afterCommit(ctx, n, ev); err != nil {
			return nil, Event{}, err
		}
		return n, ev, nil
	}
	return nil, Event{}, Fail(ECONFLICT, "NominationKeptChanging", "the nomination kept changing while your change was applied; reload and try again")
}

// create commits the first event of a new nomination.
func (s *Service) create(ctx context.Context, ev Event) (*Nomination, error) {
	ev.Seq = 1
	ev.At = s.now()
	stampHash(&ev)
	if err := s.Store.AppendEvent(ctx, ev); err != nil {
		return nil, err
	}
	n := &Nomination{ID: ev.NominationID}
	if err := s.afterCommit(ctx, n, ev); err != nil {
		return nil, err
	}
	return n, nil
}

// afterCommit folds the committed event into n, derives its side effects
// and writes the projection, whatever happens to the request meanwhile. A
// failure here loses nothing: the event is committed, and the projection
// records how far side effects are done, for the next reader to finish.
func (s *Service) afterCommit(ctx context.Context, n *Nomination, ev Event) error {
	ctx = context.WithoutCancel(ctx)
	if s.AfterAppend != nil {
		if err := s.AfterAppend(ev); err != nil {
			return err
		}
	}
	derived := n.DerivedSeq == n.Seq
	if err := Apply(n, ev); err != nil {
		return err
	}
	if derived {
		if err := s.derive(ctx, n, ev); err != nil {
			s.Logger.Warn("derive side effects; the next reader retries", "event", EventID(ev.NominationID, ev.Seq), "err", err)
		} else {
			n.DerivedSeq = ev.Seq
		}
	}
	s.put(ctx, n)
	return nil
}

// backoff waits a little, with jitter, before a writer that lost a race
// tries again.
func (s *Service) backoff(ctx context.Context, attempt int) {
	d := time.Duration(1+min(attempt, 6)) * time.Millisecond
	d += time.Duration(mathrand.Int64N(int64(d) + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// History returns the nomination's events as actor may see them. The
// secretariat sees everything. The owner sees every event but the content
// of votes and conflict declarations. A reviewer sees the content of
// actions and (unless conflicted) of votes; form answers, files, consent
// and endorsements are the candidate's and stay hidden. A hidden content
// is left out (Data nil), so only a full history verifies.
func (s *Service) History(ctx context.Context, actor Actor, id string) ([]Event, error) {
	n, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	role, err := s.access(ctx, actor, n)
	if err != nil {
		return nil, err
	}
	evs, err := s.Store.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	conflicted := role == "reviewer" && s.conflicted(actor, n)
	blind := false
	if role == "reviewer" {
		if def, err := s.definition(n); err == nil {
			blind = blindRound(actor, n, def)
		}
	}
	for i := range evs {
		hide := false
		switch role {
		case "owner":
			if evs[i].Type == EvVote || evs[i].Type == EvConflict {
				// Who voted, and how, is the panel's.
				hide = true
				evs[i].Actor = "reviewer"
			}
		case "reviewer":
			switch evs[i].Type {
			case EvAction, EvOverride:
			case EvVote:
				hide = conflicted || voteHiddenFrom(actor, evs[i]) || (blind && openRoundVote(actor, n, evs[i]))
			case EvConflict:
				hide = conflicted
			default:
				hide = true
			}
		}
		if hide {
			evs[i].Data = nil
		}
	}
	return evs, nil
}

// setPanels records which panels' reviewers may see n, and its mean score.
func (s *Service) setPanels(n *Nomination) {
	n.ReviewPanels = nil
	if def, err := s.definition(n); err == nil {
		n.ReviewPanels = reviewedPanels(def, n)
	}
	n.MeanScore = 0
	if len(n.Votes) > 0 {
		last := n.Votes[len(n.Votes)-1]
		if t := stageTally(n, last.Stage, last.Round); t.Scored > 0 {
			n.MeanScore = t.MeanScore
		}
	}
}
