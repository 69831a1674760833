package e2e

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/web"
)

// Every page of the reviewers, the secretariat and a nomination's owner,
// with each kind of visitor: anonymous (sent to sign in), a candidate (not
// theirs: 403 on the staff's pages, 404 on another's nomination), a
// reviewer of another panel (the queue, but 404 on a nomination their
// panel does not review, 403 on the secretariat's pages), a conflicted
// reviewer (the page says why there is no vote form and shows no vote;
// voting is refused) and the secretariat (every secretariat page; 403 on
// the reviewers' own pages, which are for panel members).
func TestStaffPageAccessSweep(t *testing.T) {
	a := newApp(t, appOptions{})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	a.user("ana@example.org", "Ana Candidate")
	a.user("cara@example.org", "Cara Candidate")
	secU := a.staffUser("sec@igf.example", "Sam Secretariat", []auth.Role{auth.RoleSecretariat})
	voter := a.staffUser("vera@igf.example", "Vera Voter", []auth.Role{auth.RoleReviewer}, "civil_society")
	conflicted := a.staffUser("cody@igf.example", "Cody Conflicted", []auth.Role{auth.RoleReviewer}, "civil_society")
	a.staffUser("olga@igf.example", "Olga Otherpanel", []auth.Role{auth.RoleReviewer}, "government")
	a.staffUser("tim@igf.example", "Tim Thirdreviewer", []auth.Role{auth.RoleReviewer}, "civil_society")
	ana := a.browser()
	ana.signIn("ana@example.org")
	id := submitThroughPages(t, ana, "mag-2027", "civil_society")
	ctx := context.Background()
	if _, err := a.noms.Act(ctx, actorOf(secU), id, "admit", nomination.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	if err := a.noms.DeclareConflict(ctx, actorOf(conflicted), id, "We work together."); err != nil {
		t.Fatal(err)
	}
	if _, err := a.noms.CastVote(ctx, actorOf(voter), id, nomination.VoteInput{Decision: "approve", Comment: "secret-vote-comment"}); err != nil {
		t.Fatal(err)
	}

	visitors := map[string]*browser{"anonymous": a.browser()}
	for who, email := range map[string]string{"candidate": "cara@example.org", "other-panel": "olga@igf.example",
		"conflicted": "cody@igf.example", "secretariat": "sec@igf.example"} {
		b := a.browser()
		b.signIn(email)
		visitors[who] = b
	}
	routes := a.web.Routes()
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	swept := 0
	for _, r := range routes {
		owner := strings.HasPrefix(r.Path, "/nominations/{id}")
		if r.Access != web.AccessReviewer && r.Access != web.AccessSecretariat && !owner {
			continue
		}
		path := strings.NewReplacer("{id}", id, "{slug}", "mag-2027", "{action}", "admit", "{file}", "nope").Replace(r.Path)
		swept++
		for who, b := range visitors {
			var p page
			if r.Method == http.MethodGet {
				p = b.get(path)
			} else {
				form := url.Values{}
				if r.Path == "/review/{id}/vote" {
					form.Set("decision", "approve")
				}
				p = b.post(path, form)
			}
			got := p.StatusCode
			signIn := got == http.StatusSeeOther && strings.HasPrefix(p.Header.Get("Location"), "/signin")
			want := ""
			switch {
			case who == "anonymous":
				if !signIn {
					want = "303 to sign in"
				}
			case owner:
				if got != http.StatusNotFound {
					want = "404 (not theirs)"
				}
			case r.Access == web.AccessSecretariat && who != "secretariat":
				if got != http.StatusForbidden {
					want = "403"
				}
			case r.Access == web.AccessSecretariat:
				if got == http.StatusForbidden || got == http.StatusNotFound || signIn || got >= 500 {
					want = "the page (or its form's own answer)"
				}
			case who == "candidate" || who == "secretariat":
				if got != http.StatusForbidden {
					want = "403 (not a reviewer)"
				}
			case r.Path == "/review":
				if got != http.StatusOK {
					want = "200"
				}
			case who == "other-panel":
				if got != http.StatusNotFound {
					want = "404 (not their panel's)"
				}
			case who == "conflicted":
				switch r.Path {
				case "/review/{id}":
					if got != http.StatusOK || !strings.Contains(p.Body, "You declared a conflict of interest") || strings.Contains(p.Body, "secret-vote-comment") || strings.Contains(p.Body, `action="/review/`+id+`/vote"`) {
						want = "200 with the conflict said, no vote form and no votes"
					}
				case "/review/{id}/vote":
					if got != http.StatusForbidden || !strings.Contains(p.Body, "conflict of interest") {
						want = "403 saying why"
					}
				case "/review/{id}/conflict":
					if got != http.StatusConflict && got != http.StatusUnprocessableEntity {
						want = "409 or 422 (declared already)"
					}
				}
			}
			if want != "" {
				t.Errorf("%s %s as %s: %d (Location %q), want %s", r.Method, r.Path, who, got, p.Header.Get("Location"), want)
			}
		}
	}
	if swept < 30 {
		t.Fatalf("swept only %d pages", swept)
	}
	// The API answers the conflicted reviewer as the page does.
	v, err := a.noms.Get(ctx, actorOf(conflicted), id)
	if err != nil || len(v.Nomination.Votes) != 0 || !v.Conflicted {
		t.Fatalf("conflicted reviewer's view: %v votes=%d conflicted=%v", err, len(v.Nomination.Votes), v.Conflicted)
	}
	// A reviewer of the panel who has not voted sees no other vote of the
	// round; the voter sees her own.
	tim := mustUser(t, a, "tim@igf.example")
	if v, err := a.noms.Get(ctx, actorOf(tim), id); err != nil || len(v.Nomination.Votes) != 0 || !v.VotesAfterOwn {
		t.Fatalf("before his own vote: %v votes=%d", err, len(v.Nomination.Votes))
	}
	if v, err := a.noms.Get(ctx, actorOf(voter), id); err != nil || len(v.Nomination.Votes) != 1 {
		t.Fatalf("the voter's view: %v", err)
	}
}
