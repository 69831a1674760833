package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/nomination"
)

// The demo fills an empty store with a believable renewal: a MAG call and
// a Leadership Panel call, the secretariat, reviewers on every panel,
// candidates from every region and stakeholder group in every state, and a
// roster of past members. Every person and organisation is invented and
// says so; every address is under demoDomain (reserved, never delivered).

// demoDomain holds every demo address: .example is reserved (RFC 2606).
const demoDomain = "demo.example"

// demoPassword signs in every demo account.
const demoPassword = "try the renewal 2027"

// Demo call slugs.
const (
	demoMAGCall = "mag-2027-demo"
	demoLPCall  = "leadership-panel-2027-demo"
)

// demoRefused is the demo's refusal of a store that holds data that is not
// its own: it stops the service rather than mix invented data into real.
type demoRefused struct{ what string }

func (e *demoRefused) Error() string {
	return "the demo runs only on an empty store or its own, and this one holds " + e.what +
		": start it with another NOMINA_DATA_DIR (or database)"
}

// demoAccount is one account to sign in with, as printed.
type demoAccount struct{ Who, Email string }

// demoDeps is what the demo fills the store through: the services, never
// the store directly, so the data is what the pages would have made.
type demoDeps struct {
	users       auth.Store
	accounts    *auth.Service
	nominations *nomination.Service
	members     *membership.Service
	now         time.Time
	log         *slog.Logger
}

type demoPerson struct {
	name, nationality, gender, group, org, position string
}

// demoPeople are the candidates, invented, from the five UN regional
// groups (by nationality) and the four stakeholder groups.
var demoPeople = []demoPerson{
	{"Amina Diallo", "SN", "female", "civil_society", "Sahel Digital Rights Collective", "Director"},
	{"Kwame Mensah", "GH", "male", "technical_community", "Accra Network Operators Group", "Chair"},
	{"Nomvula Dube", "ZA", "female", "government", "Department of Communications", "Chief Director"},
	{"Tesfaye Bekele", "ET", "male", "private_sector", "Addis Cloud Services", "Chief Technology Officer"},
	{"Wanjiru Kamau", "KE", "female", "technical_community", "Nairobi Internet Exchange", "Engineer"},
	{"Chidi Okafor", "NG", "male", "civil_society", "Lagos Open Web Initiative", "Programme Lead"},
	{"Priya Raman", "IN", "female", "technical_community", "Chennai Institute of Networked Systems", "Professor"},
	{"Hiroshi Tanaka", "JP", "male", "private_sector", "Kansai Datacentre Group", "Policy Director"},
	{"Siti Rahmawati", "ID", "female", "government", "Ministry of Digital Affairs", "Deputy Director"},
	{"Farhan Qureshi", "PK", "male", "civil_society", "Lahore Digital Inclusion Forum", "Founder"},
	{"Maria Santos", "PH", "female", "private_sector", "Visayas Telecom", "Regulatory Affairs Manager"},
	{"Ana Vave", "FJ", "female", "civil_society", "Pacific Islands Connectivity Alliance", "Coordinator"},
	{"Katarzyna Nowak", "PL", "female", "technical_community", "Warsaw University of Technology", "Researcher"},
	{"Andrei Popescu", "RO", "male", "government", "National Authority for Digital Policy", "Counsellor"},
	{"Oksana Kovalenko", "UA", "female", "civil_society", "Kyiv Internet Freedom Centre", "Analyst"},
	{"Giorgi Beridze", "GE", "male", "private_sector", "Tbilisi Fibre Networks", "Chief Executive"},
	{"Liis Tamm", "EE", "female", "technical_community", "Tallinn Registry Lab", "Head of Research"},
	{"Armen Petrosyan", "AM", "male", "government", "Ministry of High-Tech Industry", "Adviser"},
	{"Lucia Fernandes", "BR", "female", "civil_society", "São Paulo Digital Citizenship Institute", "Executive Director"},
	{"Mateo Rojas", "CO", "male", "private_sector", "Andean Payments", "Head of Public Policy"},
	{"Valentina Gómez", "AR", "female", "technical_community", "Córdoba Network Research Centre", "Senior Engineer"},
	{"Diego Hernández", "MX", "male", "government", "Digital Transformation Agency", "Director General"},
	{"Camille Baptiste", "JM", "female", "civil_society", "Caribbean Youth Internet Network", "Organiser"},
	{"Rafael Torres", "CL", "male", "technical_community", "Santiago Internet Society Lab", "Fellow"},
	{"Sophie Laurent", "FR", "female", "government", "Ministry for the Economy", "Digital Affairs Adviser"},
	{"Jonas Weber", "DE", "male", "private_sector", "Rhein Hosting", "Director of Trust and Safety"},
	{"Emily Clarke", "GB", "female", "civil_society", "Open Networks Trust", "Policy Lead"},
	{"Liam O'Connor", "CA", "male", "technical_community", "Northern Routing Forum", "Network Architect"},
	{"Ingrid Solberg", "NO", "female", "government", "Norwegian Communications Directorate", "Senior Adviser"},
	{"Grace Mitchell", "AU", "female", "private_sector", "Southern Cross Connect", "General Counsel"},
	{"Yasmin Haddad", "LB", "female", "civil_society", "Beirut Media and Internet Lab", "Researcher"},
	{"Samuel Osei", "RW", "male", "government", "Rwanda Information Society Authority", "Head of Policy"},
	{"Elena Petrova", "BA", "female", "private_sector", "Sarajevo Software Guild", "Founder"},
	{"Andrés Castillo", "PE", "male", "civil_society", "Lima Rural Connectivity Network", "Director"},
	{"Aroha Ngata", "NZ", "female", "technical_community", "Aotearoa Internet Research", "Research Fellow"},
	{"Rashid Karimov", "KZ", "male", "private_sector", "Steppe Data", "Chief Operating Officer"},
}

// demoStates says, in order, what becomes of the MAG candidates: the
// first in draft, then submitted, in review (with a vote), and on.
var demoMAGStates = []string{
	"draft", "draft", "draft", "draft",
	"submitted", "submitted", "submitted", "submitted",
	"panel_review", "panel_review", "panel_review", "panel_review", "panel_review", "panel_review",
	"secretariat_review", "secretariat_review", "secretariat_review", "secretariat_review",
	"shortlisted", "shortlisted", "shortlisted", "shortlisted",
	"appointed", "appointed", "appointed", "appointed",
	"not_selected", "rejected", "withdrawn", "panel_review",
}

var demoLPStates = []string{"draft", "submitted", "panel_review", "secretariat_review", "shortlisted", "appointed"}

// demoPanels are the reviewers' panels: three on each MAG panel, and the
// first of each also on the Leadership Panel's committee.
var demoPanels = []string{"government", "private_sector", "civil_society", "technical_community"}

var demoReviewers = []struct{ name, panel string }{
	{"Helena Brandt", "government"}, {"Moussa Traoré", "government"}, {"Carmen Ruiz", "government"},
	{"Daniel Park", "private_sector"}, {"Fatima Zahra Alaoui", "private_sector"}, {"Pieter de Vries", "private_sector"},
	{"Noor Hassan", "civil_society"}, {"Isabela Costa", "civil_society"}, {"Tomasz Wójcik", "civil_society"},
	{"Akosua Asante", "technical_community"}, {"Kenji Mori", "technical_community"}, {"Laura Bianchi", "technical_community"},
}

// demoPast are the MAG's members (a roster with terms), invented; the
// years of their terms count from this year (0): some serve now, some
// rotate out at the end of the year, one left last year.
var demoPast = []struct {
	name, nationality, gender, group, org string
	from, to                              int
}{
	{"Olusegun Adeyemi", "NG", "male", "private_sector", "West African Payments Forum", -2, 0},
	{"Mei Ling Chua", "SG", "female", "technical_community", "Straits Network Institute", -2, 0},
	{"Jana Horváthová", "SK", "female", "government", "Office for Informatisation", -1, 0},
	{"Carlos Mendoza", "EC", "male", "civil_society", "Quito Digital Commons", -2, -1},
	{"Anna Lindqvist", "SE", "female", "technical_community", "Nordic Resolver Project", 0, 0},
	{"Abdi Warsame", "SO", "male", "civil_society", "Horn of Africa Connectivity Trust", -1, 0},
	{"Ravi Shankar", "LK", "male", "government", "Telecommunications Regulatory Office", 0, 0},
	{"Beatriz Lopes", "PT", "female", "private_sector", "Lisbon Cable Landing Company", -2, 0},
	{"Nadia Rahman", "BD", "female", "civil_society", "Dhaka Women Online", 0, 0},
	{"Viktor Horvat", "HR", "male", "technical_community", "Adriatic Peering Association", -1, 0},
}

func demoEmail(name string) string {
	r := strings.NewReplacer(" ", ".", "'", "", "á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ã", "a", "ø", "o", "ó", "o", "ř", "r", "ł", "l", "ń", "n", "ś", "s", "ż", "z", "é", "e")
	local := strings.ToLower(r.Replace(name))
	var b strings.Builder
	for _, c := range local {
		if (c >= 'a' && c <= 'z') || c == '.' || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	return b.String() + "@" + demoDomain
}

// invented marks a name or organisation as the demo's.
func invented(s string) string { return s + " (invented)" }

var demoPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
	"% An invented CV of the Nomina demo.\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// demoStoreState tells an empty store from the demo's own and from one
// with data of someone else: a user outside the demo's domain, a call or
// a member the demo did not make.
func demoStoreState(ctx context.Context, d demoDeps) (filled bool, err error) {
	users, err := d.users.ListUsers(ctx, auth.UserFilter{Limit: 1000})
	if err != nil {
		return false, err
	}
	for _, u := range users {
		if !strings.HasSuffix(u.Email, "@"+demoDomain) {
			return false, &demoRefused{"accounts that are not the demo's"}
		}
	}
	calls, err := d.nominations.ListCalls(ctx, &nomination.Actor{Roles: []string{string(auth.RoleAdmin)}})
	if err != nil {
		return false, err
	}
	for _, c := range calls {
		if c.Slug != demoMAGCall && c.Slug != demoLPCall {
			return false, &demoRefused{"calls that are not the demo's"}
		}
	}
	staff := nomination.Actor{Roles: []string{string(auth.RoleAdmin)}}
	for _, b := range d.members.Bodies() {
		ms, err := d.members.ListMembers(ctx, staff, membership.MemberQuery{Body: b.ID})
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			if !strings.HasSuffix(m.Email, "@"+demoDomain) {
				return false, &demoRefused{"members that are not the demo's"}
			}
		}
	}
	if len(users) == 0 && len(calls) == 0 {
		return false, nil
	}
	// The roster is filled last: its last member marks a finished demo.
	last := demoEmail(demoPast[len(demoPast)-1].name)
	ms, err := d.members.ListMembers(ctx, staff, membership.MemberQuery{Body: "mag"})
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Email == last {
			return true, nil
		}
	}
	return false, &demoRefused{"an unfinished demo (a start that stopped half way)"}
}

// fillDemo fills an empty store with the demo, or leaves the demo's own
// as it is, and returns the accounts to sign in with. It refuses
// (*demoRefused) a store with anything else in it.
func fillDemo(ctx context.Context, d demoDeps) ([]demoAccount, error) {
	filled, err := demoStoreState(ctx, d)
	if err != nil {
		return nil, err
	}
	accountsOut := demoAccounts()
	if filled {
		d.log.Info("the demo is in the store already")
		return accountsOut, nil
	}
	start := time.Now()
	f := &demoFiller{demoDeps: d}
	if err := f.fill(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &demoFailed{err}
	}
	d.log.Info("demo filled", "nominations", f.count.Load(), "took", time.Since(start).Round(time.Millisecond))
	return accountsOut, nil
}

// demoAccounts lists the accounts printed: staff, a reviewer of each
// panel, and a candidate in each state.
func demoAccounts() []demoAccount {
	out := []demoAccount{
		{"administrator", "admin@" + demoDomain},
		{"secretariat", "secretariat@" + demoDomain},
	}
	for i, r := range demoReviewers {
		if i%3 == 0 {
			who := "reviewer, " + strings.ReplaceAll(r.panel, "_", " ") + " panel"
			if i == 0 {
				who += " and Leadership Panel committee"
			}
			out = append(out, demoAccount{who, demoEmail(r.name)})
		}
	}
	seen := map[string]bool{}
	for i, st := range demoMAGStates {
		if !seen[st] {
			seen[st] = true
			out = append(out, demoAccount{"candidate, MAG nomination " + strings.ReplaceAll(st, "_", " "), demoEmail(demoPeople[i].name)})
		}
	}
	return out
}

type demoFiller struct {
	demoDeps
	secretariat  nomination.Actor
	reviewers    map[string][]nomination.Actor // by panel
	count        atomic.Int64
	magTermStart time.Time
}

func (f *demoFiller) user(ctx context.Context, name, email, org string, roles []auth.Role, panels []string) (nomination.Actor, error) {
	u, err := f.accounts.Provision(ctx, auth.NewUser{Name: name, Email: email, Password: demoPassword, Roles: roles, Panels: panels, Organization: org})
	if err != nil {
		return nomination.Actor{}, fmt.Errorf("account %s: %w", email, err)
	}
	rs := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		rs[i] = string(r)
	}
	return nomination.Actor{UserID: u.ID, Email: u.Email, Name: u.Name, Roles: rs, Panels: u.Panels, Organization: u.Organization, EmailConfirmed: true}, nil
}

func (f *demoFiller) fill(ctx context.Context) error {
	if _, err := f.user(ctx, invented("Ada Okoye, administrator"), "admin@"+demoDomain, invented("IGF Secretariat"), []auth.Role{auth.RoleAdmin}, nil); err != nil {
		return err
	}
	sec, err := f.user(ctx, invented("Sofia Marin, secretariat"), "secretariat@"+demoDomain, invented("IGF Secretariat"), []auth.Role{auth.RoleSecretariat}, nil)
	if err != nil {
		return err
	}
	f.secretariat = sec
	f.reviewers = map[string][]nomination.Actor{}
	for i, r := range demoReviewers {
		panels := []string{r.panel}
		if i%3 == 0 {
			panels = append(panels, "lp_committee")
		}
		a, err := f.user(ctx, invented(r.name), demoEmail(r.name), invented("MAG panel"), []auth.Role{auth.RoleReviewer}, panels)
		if err != nil {
			return err
		}
		for _, p := range panels {
			f.reviewers[p] = append(f.reviewers[p], a)
		}
	}

	now := f.now.UTC()
	year := now.Year() + 1
	f.magTermStart = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	opens, closes := now.AddDate(0, 0, -20).Truncate(time.Hour), now.AddDate(0, 0, 25).Truncate(time.Hour)
	call := func(slug, title, wf string, seats int) error {
		t := title
		s := seats
		_, err := f.nominations.CreateCall(ctx, sec, nomination.CallInput{Slug: slug, Title: &t, Workflow: wf,
			OpensAt: &opens, ClosesAt: &closes, TermStart: &f.magTermStart, Seats: &s})
		if err != nil {
			return fmt.Errorf("call %s: %w", slug, err)
		}
		return nil
	}
	if err := call(demoMAGCall, fmt.Sprintf("MAG renewal %d (demo)", year), "mag", 14); err != nil {
		return err
	}
	if err := call(demoLPCall, fmt.Sprintf("Leadership Panel %d (demo)", year), "leadership-panel", 3); err != nil {
		return err
	}

	// The candidates are independent of each other: a few at a time.
	type job struct {
		slug, state string
		p           demoPerson
		lp          bool
	}
	var jobs []job
	for i, st := range demoMAGStates {
		jobs = append(jobs, job{demoMAGCall, st, demoPeople[i], false})
	}
	for i, st := range demoLPStates {
		jobs = append(jobs, job{demoLPCall, st, demoPeople[len(demoMAGStates)+i], true})
	}
	work := make(chan job)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for j := range work {
				errs <- f.nominate(ctx, j.slug, j.p, j.state, j.lp)
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return f.roster(ctx)
}

func (f *demoFiller) nominate(ctx context.Context, slug string, p demoPerson, state string, lp bool) error {
	owner, err := f.user(ctx, invented(p.name), demoEmail(p.name), invented(p.org), []auth.Role{auth.RoleCandidate}, nil)
	if err != nil {
		return err
	}
	fields := map[string]any{
		"stakeholder_group": p.group,
		"nationality":       p.nationality,
		"gender":            p.gender,
		"organization":      invented(p.org),
		"position":          p.position,
		"declaration":       true,
		"motivation": "This candidate and everything said here are invented for the Nomina demo. " +
			p.name + " has worked for years with " + p.org + " on connectivity, digital rights and the " +
			"multistakeholder model, and would bring the views of their region and stakeholder group to the " +
			"preparation of the annual meeting, the intersessional work and the outreach to newcomers.",
	}
	if !lp {
		fields["igf_experience"] = "Invented: took part in three annual meetings, spoke at a workshop on community networks and coordinates a national IGF initiative."
	}
	v, err := f.nominations.Create(ctx, owner, slug, nomination.NominationInput{Fields: fields})
	if err != nil {
		return fmt.Errorf("nomination of %s: %w", p.name, err)
	}
	id := v.Nomination.ID
	f.count.Add(1)
	if state == "draft" && strings.HasPrefix(p.name, "A") {
		return nil // a draft without its CV yet
	}
	if _, err := f.nominations.AddAttachment(ctx, owner, id, nomination.Upload{Kind: "cv", Filename: "cv-invented.pdf", Body: bytes.NewReader(demoPDF)}); err != nil {
		return fmt.Errorf("CV of %s: %w", p.name, err)
	}
	if state == "draft" {
		return nil
	}
	act := func(actor nomination.Actor, action string, in nomination.ActionInput) error {
		if _, err := f.nominations.Act(ctx, actor, id, action, in); err != nil {
			return fmt.Errorf("%s of %s: %w", action, p.name, err)
		}
		return nil
	}
	if err := act(owner, "submit", nomination.ActionInput{}); err != nil {
		return err
	}
	switch state {
	case "submitted":
		return nil
	case "withdrawn":
		return act(owner, "withdraw", nomination.ActionInput{})
	case "rejected":
		return act(f.secretariat, "reject", nomination.ActionInput{Reason: "The declaration was not signed by the candidate (an invented reason)."})
	}
	if err := act(f.secretariat, "admit", nomination.ActionInput{}); err != nil {
		return err
	}
	panel := p.group
	if lp {
		panel = "lp_committee"
	}
	reviewers := f.reviewers[panel]
	vote := func(r nomination.Actor, decision string, score float64, comment string) error {
		in := nomination.VoteInput{Decision: decision, Comment: comment}
		if lp {
			in.Score = &score
		}
		if _, err := f.nominations.CastVote(ctx, r, id, in); err != nil {
			return fmt.Errorf("vote of %s on %s: %w", r.Name, p.name, err)
		}
		return nil
	}
	if state == "panel_review" {
		// Some votes, not enough to decide.
		return vote(reviewers[0], "approve", 4, "Strong record in the region (an invented comment).")
	}
	decision := "approve"
	if state == "not_selected" {
		decision = "reject"
	}
	for i, r := range reviewers {
		if !lp && i == 2 {
			break // two of three decide a MAG panel
		}
		score := 4.0
		if decision == "reject" {
			score = 2
		}
		if err := vote(r, decision, score, "An invented comment from the panel."); err != nil {
			return err
		}
	}
	switch state {
	case "secretariat_review", "not_selected":
		return nil
	}
	if err := act(f.secretariat, "shortlist", nomination.ActionInput{}); err != nil {
		return err
	}
	if state == "shortlisted" {
		return nil
	}
	return act(f.secretariat, "appoint", nomination.ActionInput{})
}

// roster records the past MAG members and their terms.
func (f *demoFiller) roster(ctx context.Context) error {
	this := f.now.UTC().Year()
	for _, m := range demoPast {
		m.from += this
		m.to += this
		first := time.Date(m.from, 1, 1, 0, 0, 0, 0, time.UTC)
		end := func(y int) time.Time { return time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC) }
		mem, err := f.members.RecordMember(ctx, f.secretariat, membership.MemberInput{Body: "mag",
			Profile: membership.Profile{Email: demoEmail(m.name), Name: invented(m.name), StakeholderGroup: m.group,
				Gender: m.gender, Nationality: m.nationality, Organization: invented(m.org)},
			Start: first, End: end(m.from)})
		if err != nil {
			return fmt.Errorf("member %s: %w", m.name, err)
		}
		for y := m.from + 1; y <= m.to; y++ {
			if _, err := f.members.CreateTerm(ctx, f.secretariat, mem.ID, membership.TermInput{Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), End: end(y)}); err != nil {
				return fmt.Errorf("term %d of %s: %w", y, m.name, err)
			}
		}
	}
	return nil
}

// printDemo writes the accounts of the demo.
func printDemo(w io.Writer, baseURL string, accounts []demoAccount) {
	rule := strings.Repeat("=", 72)
	var b strings.Builder // one write, so the block is never interleaved
	fmt.Fprintf(&b, "\n%s\n\n  Nomina demo at %s\n  Everyone and everything in it is invented. Sign in with any of\n  these accounts; the password of each is: %s\n\n", rule, baseURL, demoPassword)
	for _, a := range accounts {
		fmt.Fprintf(&b, "  %-38s %s\n", a.Email, a.Who)
	}
	fmt.Fprintf(&b, "\n%s\n\n", rule)
	_, _ = io.WriteString(w, b.String())
}

// demoFailed is a demo that could not be filled: it stops the service
// (a retry would find the demo unfinished).
type demoFailed struct{ err error }

func (e *demoFailed) Error() string { return "demo: " + e.err.Error() }
func (e *demoFailed) Unwrap() error { return e.err }

// isDemoError reports whether err is the demo's refusal of the store or
// its failure, which stop the service.
func isDemoError(err error) bool {
	var r *demoRefused
	var f *demoFailed
	return errors.As(err, &r) || errors.As(err, &f)
}
