package main

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"github.com/igf/nomina/internal/nomination"
)

// The calls of the scenario.
const (
	magCall = "mag-2027"
	lpCall  = "lp-2027"
)

var magGroups = []string{"government", "private_sector", "civil_society", "technical_community"}

// person is someone the scenario mails or signs in.
type person struct {
	Name, Email string
	Addr        string // the client address their requests come from
}

// candidate is one nomination of the scenario and everything decided
// about it in advance: who makes it, for whom, and what becomes of it.
type candidate struct {
	Index      int
	Call       string // magCall or lpCall
	Account    person // the nominator's account; the candidate's own when self-nominated
	Nominee    person
	ThirdParty bool
	Endorser   *person // MAG only

	Group, Nationality, Gender, Organization, Position string

	ConsentDecline bool // the nominee declines; the nominator withdraws the draft
	WithdrawDraft  bool // the nominator withdraws before submitting
	Late           bool // tries to submit after the deadline: refused, stays a draft
	Rush           bool // submits in the last tenth of the window
	ScreenReject   bool // the secretariat rejects it, giving a reason
	// RequestChanges: in round 1 reviewer ChangesBy asks for changes; the
	// nominator edits and submits again, and round 2 decides.
	RequestChanges bool
	ChangesBy      int
	Strong         bool // reviewers mostly approve (MAG) or score high (LP)
}

// reviewer is a member of a review panel.
type reviewer struct {
	Index int
	person
	Panel        string
	Organization string
}

// plan is the whole scenario, decided from the seed.
type plan struct {
	seed       uint64
	mag, lp    []*candidate
	reviewers  []*reviewer // MAG panels
	committee  []*reviewer // the LP selection committee
	staff      []person
	admin      person
	password   string
	adminPass  string
	sameOrg    map[int]int // candidate index -> reviewer index sharing their organisation
	greylisted []string    // addresses whose messages fail once with 4xx
	bounced    []string    // addresses whose messages fail with 4xx, then 5xx
}

// Shares of the scenario (of the candidates, unless said otherwise).
const (
	shareThirdParty   = 0.20
	shareLPThirdParty = 0.50
	shareDecline      = 0.06 // of third-party nominations
	shareWithdraw     = 0.01
	shareLate         = 0.004
	shareReject       = 0.05
	shareChanges      = 0.04 // of the early submissions
	shareStrong       = 0.55
	shareConflict     = 0.02 // of reviewer-nomination pairs
	shareRecuse       = 0.03 // of votes
	shareSameOrg      = 0.005
	shareGreylisted   = 0.01 // of candidates' addresses
)

// nationalities with their weight; the UN regional group follows from the
// nationality (the service derives it).
var nationalities = []string{
	"KE", "NG", "ZA", "EG", "GH", "SN", "ET", "TN", "RW", "UG", // African
	"IN", "CN", "JP", "ID", "PK", "BD", "PH", "IR", "AE", "NP", // Asia-Pacific
	"PL", "RU", "UA", "RO", "CZ", "GE", "AM", "RS", // Eastern European
	"BR", "MX", "AR", "CO", "CL", "PE", "JM", "TT", // GRULAC
	"US", "DE", "FR", "GB", "CA", "SE", "NL", "IT", "ES", "AU", // WEOG
}

var firstNames = []string{"Amina", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jomo", "Kofi", "Lucia",
	"Mei", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sami", "Tariq", "Ula", "Victor", "Wanjiru", "Xavier", "Yara", "Zeynep"}
var lastNames = []string{"Abebe", "Banerjee", "Castro", "Diallo", "Eriksen", "Fernandes", "Gomez", "Haddad", "Ivanova", "Jensen",
	"Kamau", "Lopez", "Mensah", "Nakamura", "Okafor", "Petrov", "Quispe", "Rahman", "Silva", "Tanaka", "Uddin", "Vargas", "Wang", "Yilmaz"}

// chance returns a number in [0, 1) fixed by the seed and the parts: the
// scenario's decisions are the same in every run with the same seed,
// whatever order things happen in.
func chance(seed uint64, parts ...any) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, p := range parts {
		fmt.Fprint(h, "|", p)
	}
	x := h.Sum64()
	// One round of SplitMix64 spreads FNV's low bits.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func newPlan(o options) *plan {
	p := &plan{seed: o.Seed, password: "simulated passphrase for every account 2027", sameOrg: map[int]int{}}
	r := rand.New(rand.NewPCG(o.Seed, 7))
	p.admin = person{Name: "Ada Admin", Email: "admin@igf.sim.test", Addr: "10.0.0.1"}
	p.adminPass = p.password
	if o.AdminEmail != "" {
		p.admin.Email, p.adminPass = o.AdminEmail, o.AdminPassword
	}
	p.staff = []person{
		{Name: "Sam Secretariat", Email: "sam@igf.sim.test", Addr: "10.0.0.2"},
		{Name: "Siri Secretariat", Email: "siri@igf.sim.test", Addr: "10.0.0.3"},
	}
	per := o.Reviewers / 4
	for i := 0; i < o.Reviewers; i++ {
		p.reviewers = append(p.reviewers, &reviewer{Index: i, Panel: magGroups[i/per], Organization: fmt.Sprintf("Review Institute %02d", i),
			person: person{Name: fmt.Sprintf("Reviewer %02d %s", i, lastNames[i%len(lastNames)]), Email: fmt.Sprintf("rev%02d@panel.sim.test", i), Addr: fmt.Sprintf("10.1.0.%d", 10+i)}})
	}
	for i := 0; i < o.LPCommittee; i++ {
		p.committee = append(p.committee, &reviewer{Index: 1000 + i, Panel: "lp_committee", Organization: fmt.Sprintf("Committee Office %02d", i),
			person: person{Name: fmt.Sprintf("Committee %02d %s", i, lastNames[(i+7)%len(lastNames)]), Email: fmt.Sprintf("lpc%02d@panel.sim.test", i), Addr: fmt.Sprintf("10.1.1.%d", 10+i)}})
	}
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", 20+i/65536, (i/256)%256, i%256) }
	name := func(i int) string {
		return firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	}
	mk := func(i int, call string) *candidate {
		c := &candidate{Index: i, Call: call}
		c.Nationality = nationalities[r.IntN(len(nationalities))]
		switch x := r.Float64(); {
		case x < 0.48:
			c.Gender = "female"
		case x < 0.96:
			c.Gender = "male"
		case x < 0.98:
			c.Gender = "other"
		default:
			c.Gender = "undisclosed"
		}
		c.Organization = fmt.Sprintf("Organisation %04d of %s", i, c.Nationality)
		c.Position = "Director"
		tag := "mag"
		if call == lpCall {
			tag = "lp"
		}
		self := person{Name: name(i), Email: fmt.Sprintf("%s%04d@cand.sim.test", tag, i), Addr: addr(i)}
		share := shareThirdParty
		if call == lpCall {
			share = shareLPThirdParty
		}
		c.ThirdParty = chance(p.seed, call, i, "third") < share
		c.Account, c.Nominee = self, self
		if c.ThirdParty {
			c.Account = person{Name: name(i) + " (nominator)", Email: fmt.Sprintf("%snom%04d@org.sim.test", tag, i), Addr: addr(i)}
			c.ConsentDecline = chance(p.seed, call, i, "decline") < shareDecline
		}
		c.Strong = chance(p.seed, call, i, "strong") < shareStrong
		c.WithdrawDraft = !c.ConsentDecline && chance(p.seed, call, i, "withdraw") < shareWithdraw
		c.Late = !c.ConsentDecline && !c.WithdrawDraft && chance(p.seed, call, i, "late") < shareLate
		c.ScreenReject = chance(p.seed, call, i, "reject") < shareReject
		c.Rush = chance(p.seed, call, i, "rush") < 0.5
		return c
	}
	groupOf := func(i int) string {
		switch x := chance(p.seed, "group", i); {
		case x < 0.25:
			return "government"
		case x < 0.45:
			return "private_sector"
		case x < 0.75:
			return "civil_society"
		default:
			return "technical_community"
		}
	}
	for i := 0; i < o.Candidates; i++ {
		c := mk(i, magCall)
		c.Group = groupOf(i)
		c.Endorser = &person{Name: name(i) + " (endorser)", Email: fmt.Sprintf("endorser%04d@support.sim.test", i), Addr: addr(100000 + i)}
		if !c.Rush && !c.ScreenReject && !c.WithdrawDraft && !c.ConsentDecline && !c.Late && chance(p.seed, magCall, i, "changes") < shareChanges*2 {
			c.RequestChanges = true
		}
		p.mag = append(p.mag, c)
	}
	for i := 0; i < o.LPCandidates; i++ {
		c := mk(i, lpCall)
		switch x := chance(p.seed, "lpgroup", i); {
		case x < 0.2:
			c.Group = "government"
		case x < 0.4:
			c.Group = "private_sector"
		case x < 0.6:
			c.Group = "civil_society"
		case x < 0.8:
			c.Group = "technical_community"
		default:
			c.Group = "at_large"
		}
		c.Position = "Minister of Digital Affairs"
		c.Late = false
		p.lp = append(p.lp, c)
	}
	// A few candidates work where a reviewer of their panel works: that
	// reviewer is excluded without declaring anything.
	for _, c := range p.mag {
		if c.ThirdParty || chance(p.seed, "sameorg", c.Index) >= shareSameOrg {
			continue
		}
		panel := p.panel(c.Group)
		rv := panel[int(chance(p.seed, "sameorg-rev", c.Index)*float64(len(panel)))]
		c.Organization = rv.Organization
		p.sameOrg[c.Index] = rv.Index
	}
	for _, c := range p.mag {
		if c.RequestChanges {
			eligible := p.eligibleMAG(c)
			if len(eligible) < 3 {
				c.RequestChanges = false
				continue
			}
			c.ChangesBy = eligible[int(chance(p.seed, "changes-by", c.Index)*float64(len(eligible)))].Index
		}
	}
	for _, c := range append(append([]*candidate(nil), p.mag...), p.lp...) {
		if chance(p.seed, "greylist", c.Call, c.Index) < shareGreylisted {
			p.greylisted = append(p.greylisted, c.Account.Email)
		}
	}
	p.greylisted = append(p.greylisted, p.staff[1].Email)
	// Two reviewers' mailboxes refuse everything: their mail is parked as
	// dead; they review from their queue all the same.
	p.bounced = []string{p.reviewers[1].Email, p.reviewers[len(p.reviewers)-2].Email}
	return p
}

// panel returns the MAG reviewers of a stakeholder group.
func (p *plan) panel(group string) []*reviewer {
	var out []*reviewer
	for _, rv := range p.reviewers {
		if rv.Panel == group {
			out = append(out, rv)
		}
	}
	return out
}

// conflicted says whether the reviewer declares a conflict with c.
func (p *plan) conflicted(rv *reviewer, c *candidate) bool {
	if c.RequestChanges && rv.Index == c.ChangesBy {
		return false
	}
	share := shareConflict
	if c.Call == lpCall {
		share = 0.03
	}
	return chance(p.seed, "conflict", c.Call, rv.Index, c.Index) < share
}

// excluded says whether the reviewer is kept from c without declaring a
// conflict (same organisation).
func (p *plan) excluded(rv *reviewer, c *candidate) bool {
	j, ok := p.sameOrg[c.Index]
	return ok && c.Call == magCall && j == rv.Index
}

// eligibleMAG returns the panel members who may vote on c.
func (p *plan) eligibleMAG(c *candidate) []*reviewer {
	var out []*reviewer
	for _, rv := range p.panel(c.Group) {
		if !p.excluded(rv, c) && !p.conflicted(rv, c) {
			out = append(out, rv)
		}
	}
	return out
}

// vote returns a MAG reviewer's decision on c in round.
func (p *plan) vote(rv *reviewer, c *candidate, round int) string {
	x := chance(p.seed, "vote", rv.Index, c.Index, round)
	if x < shareRecuse {
		return "recuse"
	}
	approve := 0.2
	if c.Strong {
		approve = 0.85
	}
	if (x-shareRecuse)/(1-shareRecuse) < approve {
		return "approve"
	}
	return "reject"
}

// score returns an LP committee member's score of c, 1 to 5.
func (p *plan) score(rv *reviewer, c *candidate) int {
	x := chance(p.seed, "score", rv.Index, c.Index)
	if c.Strong {
		return 3 + int(x*3) // 3..5
	}
	return 1 + int(x*3) // 1..3
}

// magPasses says whether c's panel recommends it in its deciding round
// (the round after changes, when asked for).
func (p *plan) magPasses(c *candidate) bool {
	round := 1
	if c.RequestChanges {
		round = 2
	}
	a, r := 0, 0
	for _, rv := range p.eligibleMAG(c) {
		switch p.vote(rv, c, round) {
		case "approve":
			a++
		case "reject":
			r++
		}
	}
	return a >= 2 && a > r
}

// lpPasses says whether the committee recommends c: three scores or more,
// mean at least 3.
func (p *plan) lpPasses(c *candidate) bool {
	sum, n := 0, 0
	for _, rv := range p.committee {
		if p.conflicted(rv, c) {
			continue
		}
		sum += p.score(rv, c)
		n++
	}
	return n >= 3 && float64(sum) >= 3*float64(n)
}

// submits says whether c is ever submitted.
func (c *candidate) submits() bool { return !c.ConsentDecline && !c.WithdrawDraft && !c.Late }

// outcomeBeforeSelection is the state c should reach without the
// secretariat's final choice: final, or secretariat_review.
func (p *plan) outcomeBeforeSelection(c *candidate) string {
	switch {
	case c.ConsentDecline || c.WithdrawDraft:
		return "withdrawn"
	case c.Late:
		return "draft"
	case c.ScreenReject:
		return "rejected"
	}
	pass := false
	if c.Call == magCall {
		pass = p.magPasses(c)
	} else {
		pass = p.lpPasses(c)
	}
	if pass {
		return "secretariat_review"
	}
	return "not_selected"
}

// fields returns c's answers to the form of its call's workflow.
func (c *candidate) fields(ref string) map[string]any {
	f := map[string]any{
		"stakeholder_group": c.Group,
		"nationality":       c.Nationality,
		"gender":            c.Gender,
		"organization":      c.Organization,
		"position":          c.Position,
		"declaration":       true,
		"motivation":        motivation(c, ref),
	}
	if r, ok := nomination.RegionOf(c.Nationality); ok {
		f["region"] = r
	}
	f["economic_group"] = "developing" // for a nationality the service does not classify
	if g, ok := nomination.EconomicGroupOf(c.Nationality); ok {
		f["economic_group"] = g
	}
	return f
}

func motivation(c *candidate, ref string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s has worked on internet governance in %s for many years, ", c.Nominee.Name, regionName(c.Nationality))
	b.WriteString("with national and regional IGFs, multistakeholder consultations on digital inclusion, and the technical ")
	b.WriteString("community's capacity building programmes. The candidate would bring that experience to the group's work ")
	b.WriteString("on the programme and intersessional activities. Ref ")
	b.WriteString(ref)
	b.WriteString(".")
	return b.String()
}

// all returns every candidate of both calls, MAG first.
func (p *plan) all() []*candidate {
	return append(append([]*candidate(nil), p.mag...), p.lp...)
}

// regionName names the UN regional group of a nationality, for the
// motivation's text.
func regionName(iso string) string {
	r, ok := nomination.RegionOf(iso)
	if !ok {
		return "their region"
	}
	return "the " + strings.ReplaceAll(r, "_", " ") + " region"
}
