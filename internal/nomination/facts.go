package nomination

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/igf/nomina/internal/phrase"
	"github.com/igf/nomina/internal/workflow"
)

// Histories answers what a person did on the membership bodies: the facts
// workflow rules see as nominator.terms.mag, nominee.member.wgig and the
// like.
type Histories interface {
	// History returns the record of the person with email on each of
	// bodies as of day (terms started before it, whether one covers it,
	// the group of the latest) and the stakeholder group of their latest
	// term on any of those bodies. An unknown person has an empty record.
	History(ctx context.Context, email string, bodies []string, day time.Time) (workflow.PersonFacts, error)
}

// factsQuery says whose facts to gather for one evaluation.
type factsQuery struct {
	call Call
	// ownerID and ownerEmail are the nominator's account; ownerRoles its
	// roles, nil to look them up.
	ownerID, ownerEmail string
	ownerRoles          []string
	nomineeEmail        string
	self                bool
	// nomination is the nomination decided on, left out of the count of
	// the nominator's nominations ("" before it exists).
	nomination string
}

// personFacts gathers the person facts def's rules name, and only those:
// a workflow that names none costs nothing here.
func (s *Service) personFacts(ctx context.Context, def *workflow.Definition, q factsQuery) (nominator, nominee workflow.PersonFacts, err error) {
	day := s.now()
	if def.Uses(workflow.NominatorPrefix) {
		if def.Uses("nominator.roles") {
			nominator.Roles = q.ownerRoles
			if nominator.Roles == nil && s.Directory != nil && q.ownerID != "" {
				m, err := s.Directory.User(ctx, q.ownerID)
				if err != nil && ErrorCode(err) != ENOTFOUND {
					return nominator, nominee, fmt.Errorf("roles of nominator %s: %w", q.ownerID, err)
				}
				nominator.Roles = m.Roles
			}
		}
		if def.Uses("nominator.nominations") {
			n, err := s.heldNominations(ctx, q.call.Slug, q.ownerID, q.nomination)
			if err != nil {
				return nominator, nominee, err
			}
			nominator.Nominations = n
		}
		if bodies := factBodies(def, workflow.NominatorPrefix); len(bodies) > 0 {
			h, err := s.history(ctx, q.ownerEmail, bodies, day)
			if err != nil {
				return nominator, nominee, err
			}
			nominator.StakeholderGroup, nominator.Bodies = h.StakeholderGroup, h.Bodies
		}
	}
	if def.Uses(workflow.NomineePrefix) {
		nominee.Self = q.self
		if bodies := factBodies(def, workflow.NomineePrefix); len(bodies) > 0 {
			h, err := s.history(ctx, q.nomineeEmail, bodies, day)
			if err != nil {
				return nominator, nominee, err
			}
			nominee.StakeholderGroup, nominee.Bodies = h.StakeholderGroup, h.Bodies
		}
	}
	return nominator, nominee, nil
}

// factBodies returns the bodies whose records def's rules need for the
// person named by prefix: those named in per-body facts, or all of them
// when the rules ask for the person's stakeholder group (that of their
// latest term on any body).
func factBodies(def *workflow.Definition, prefix string) []string {
	if def.Uses(prefix + "stakeholder_group") {
		return workflow.Bodies
	}
	var out []string
	for _, b := range workflow.Bodies {
		for _, fact := range []string{"terms.", "member.", "group."} {
			if def.Uses(prefix + fact + b) {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

func (s *Service) history(ctx context.Context, email string, bodies []string, day time.Time) (workflow.PersonFacts, error) {
	if s.Histories == nil || strings.TrimSpace(email) == "" {
		return workflow.PersonFacts{}, nil
	}
	h, err := s.Histories.History(ctx, email, bodies, day)
	if err != nil {
		return workflow.PersonFacts{}, fmt.Errorf("membership history: %w", err)
	}
	return h, nil
}

// heldNominations counts owner's nominations in call, withdrawn ones and
// the nomination except left out.
func (s *Service) heldNominations(ctx context.Context, call, owner, except string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	count := 0
	for n, err := range s.Store.ScanNominations(ctx, ListFilter{Call: call, Owner: owner}) {
		if err != nil {
			return 0, fmt.Errorf("count the nominator's nominations: %w", err)
		}
		if n.ID != except && n.State != stateWithdrawn {
			count++
		}
	}
	return count, nil
}

// stateWithdrawn is the state DESIGN §5 names for a nomination its owner
// withdrew: it no longer counts against the nominator.
const stateWithdrawn = "withdrawn"

// SlotID names generation gen (from 1) of the n-th place (from 1) of
// owner's nominations in call under a nominator quota. A place is held by
// the nomination that took its latest generation, until that generation is
// freed; the next holder takes the next generation.
func SlotID(call, owner string, n, gen int) string {
	return fmt.Sprintf("%s/%s/%d/%d", call, owner, n, gen)
}

// staleSlot is how long a place taken by a nomination that was never
// created is kept: a writer that took it and stopped before committing the
// nomination's first event.
const staleSlot = time.Minute

// maxSlotGenerations bounds the generations of one place a search reads:
// far more withdrawals and new nominations than one nominator makes.
const maxSlotGenerations = 1000

// takeSlot takes a free place of owner's quota in call for nomination id.
// Taking a place is the insert of its next generation's slot: the commit
// point, so of two nominations racing for the last place one wins and the
// other is refused. When every place is held, places whose nomination was
// withdrawn (or never created) are freed and the search runs again. It
// returns the slot taken. Errors: EFORBIDDEN with message when the quota is
// reached.
func (s *Service) takeSlot(ctx context.Context, call, owner, id string, quota int, message phrase.Text) (string, error) {
	for attempt := 0; attempt < s.MaxAttempts; attempt++ {
		var held []string
		for n := 1; n <= quota; n++ {
			slot, taken, err := s.takePlace(ctx, call, owner, n, id)
			if err != nil {
				return "", err
			}
			if taken {
				return slot, nil
			}
			held = append(held, slot)
		}
		freed, err := s.freeStaleSlots(ctx, held)
		if err != nil {
			return "", err
		}
		if !freed {
			if message.English == "" {
				return "", Fail(EFORBIDDEN, "QuotaReached", "You hold the {{.Quota}} nominations a nominator may hold in this call.", "Quota", quota)
			}
			return "", &Error{Code: EFORBIDDEN, Message: message.English, Text: message}
		}
	}
	return "", Fail(ECONFLICT, "QuotaKeptChanging", "your nominations kept changing while this one was started; try again")
}

// takePlace tries to take place n for nomination id: it finds the place's
// latest generation and, when that is free, takes the next one. It returns
// the slot taken, or the slot holding the place with taken false.
func (s *Service) takePlace(ctx context.Context, call, owner string, n int, id string) (string, bool, error) {
	for gen := 1; gen <= maxSlotGenerations; {
		slot := SlotID(call, owner, n, gen)
		_, _, err := s.Store.Slot(ctx, slot)
		switch ErrorCode(err) {
		case ENOTFOUND:
			err := s.Store.TakeSlot(ctx, slot, id, s.now())
			if err == nil {
				return slot, true, nil
			}
			if ErrorCode(err) != ECONFLICT {
				return "", false, err
			}
			continue // another nomination took it first: read it again
		case "":
		default:
			return "", false, err
		}
		free, err := s.Store.SlotFree(ctx, slot)
		if err != nil {
			return "", false, err
		}
		if !free {
			return slot, false, nil
		}
		gen++
	}
	return "", false, Errorf(EINTERNAL, "quota place %s/%s/%d has too many generations", call, owner, n)
}

// freeStaleSlots frees the held slots whose nomination was withdrawn, or
// never created; it reports whether it freed any.
func (s *Service) freeStaleSlots(ctx context.Context, slots []string) (bool, error) {
	freed := false
	for _, slot := range slots {
		holder, at, err := s.Store.Slot(ctx, slot)
		if err != nil {
			return false, err
		}
		stale := false
		nom, err := s.load(ctx, holder)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			stale = s.now().Sub(at) > staleSlot
		case err != nil:
			return false, err
		default:
			stale = nom.State == stateWithdrawn
		}
		if stale {
			if err := s.Store.FreeSlot(ctx, slot); err != nil {
				return false, err
			}
			freed = true
		}
	}
	return freed, nil
}
