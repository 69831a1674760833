package membership

import (
	"slices"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// rosterBodies are the bodies no workflow feeds, whose members are only
// recorded and imported: the Working Group on Internet Governance (2004 to
// 2005), whose alumni some MAG calls let nominate and be nominated
// (workflow rules name them as nominator.terms.wgig and the like). An
// import row without an end gets a term of one year.
var rosterBodies = []Body{
	{ID: "wgig", Title: "Working Group on Internet Governance (WGIG)", Terms: workflow.TermRules{Years: 1}},
}

// BodiesFrom returns the bodies the latest version of each loaded workflow
// feeds, and the roster bodies no workflow feeds (the WGIG), sorted by id,
// with the term rules and form choices the workflow files give. Workflows without a body are skipped. Two workflows feeding
// one body must agree on its term rules: otherwise it returns an EINVALID
// *nomination.Error naming both.
func BodiesFrom(reg *workflow.Registry) ([]Body, error) {
	if reg == nil {
		return nil, nil
	}
	byID := map[string]*Body{}
	var ids []string
	for _, def := range reg.All() {
		if def.Body == "" {
			continue
		}
		b, ok := byID[def.Body]
		if !ok {
			b = &Body{ID: def.Body, Title: def.Title, Terms: def.Terms}
			byID[def.Body] = b
			ids = append(ids, def.Body)
		} else if b.Terms != def.Terms {
			return nil, nomination.Fail(nomination.EINVALID, "BodyTermsDiffer",
				"workflows {{.First}} and {{.Second}} feed body \"{{.Body}}\" with different term rules", "First", b.Workflows[0], "Second", def.ID, "Body", def.Body)
		}
		b.Workflows = append(b.Workflows, def.ID)
		b.Groups = mergeChoices(b.Groups, def, "stakeholder_group")
		b.Regions = mergeChoices(b.Regions, def, "region")
		b.Genders = mergeChoices(b.Genders, def, "gender")
	}
	for _, r := range rosterBodies {
		if _, fed := byID[r.ID]; !fed {
			b := r
			byID[r.ID] = &b
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	out := make([]Body, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out, nil
}

// mergeChoices adds the choices of def's field to have, keeping order and
// dropping repeats.
func mergeChoices(have []string, def *workflow.Definition, field string) []string {
	f, ok := def.Field(field)
	if !ok {
		return have
	}
	for _, c := range f.Choices {
		if !slices.Contains(have, c) {
			have = append(have, c)
		}
	}
	return have
}

// body returns the body with id; ENOTFOUND when no workflow feeds it.
func (s *Service) body(id string) (Body, error) {
	for _, b := range s.bodies {
		if b.ID == id {
			return b, nil
		}
	}
	return Body{}, nomination.Fail(nomination.ENOTFOUND, "NoSuchBody", "no body \"{{.Body}}\": no workflow feeds it", "Body", id)
}

// Bodies returns the bodies the service knows, sorted by id.
func (s *Service) Bodies() []Body { return append([]Body(nil), s.bodies...) }

func (s *Service) bodyIDs() []string {
	ids := make([]string, len(s.bodies))
	for i, b := range s.bodies {
		ids[i] = b.ID
	}
	return ids
}
