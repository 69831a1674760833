package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// minimalPDF is what the CV uploads hold: the service checks the content
// is a PDF, not the name.
var minimalPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// candidateFlow is one nomination from the nominator's registration to
// its submission (or withdrawal), with its nominee and endorser reacting
// to the mail they get.
//
// park gives the candidate's place among the people starting at once back
// while they wait for the rush or the deadline: else, with more waiting
// candidates than places, those not yet started could never make the
// early submissions that open the rush.
func (s *scenario) candidateFlow(ctx context.Context, c *candidate, park func()) error {
	early := c.submits()
	doneEarly := func() {
		if early {
			early = false
			s.earlyLeft.Add(-1)
		}
	}
	defer doneEarly()
	rushPending := c.Rush && c.submits()
	defer func() {
		if rushPending {
			s.rushLeft.Add(-1)
		}
	}()
	sess := s.sessionOf(c.Account)
	if err := s.register(ctx, sess, c.Account); err != nil {
		return err
	}
	s.registered.Add(1)
	id, err := s.createNomination(ctx, sess, c)
	if err != nil {
		return err
	}
	for _, f := range s.fileFields(c.Call) {
		if err := s.upload(ctx, sess, c, id, f); err != nil {
			return err
		}
	}
	answered := make(chan error, 2)
	waits := 0
	if c.Endorser != nil {
		if err := s.askEndorsement(ctx, sess, c, id); err != nil {
			return err
		}
		waits++
		go func() { answered <- s.endorserFlow(ctx, c, id) }()
	}
	if c.ThirdParty {
		waits++
		go func() { answered <- s.nomineeFlow(ctx, c, id) }()
	}
	for i := 0; i < waits; i++ {
		if err := <-answered; err != nil {
			return err
		}
	}
	switch {
	case c.ConsentDecline || c.WithdrawDraft:
		return s.act(ctx, sess, c, id, "withdraw", "withdrawn")
	case c.Late:
		park()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
		}
		// Past the deadline on every instance's clock, skew included.
		time.Sleep(6 * time.Second)
		ref := s.c.ref()
		resp := sess.call(ctx, request{Method: "POST", Path: "/api/v1/nominations/" + id + "/actions/submit", Route: "POST /api/v1/nominations/:id/actions/:action",
			Body: map[string]any{"comment": "Late. Ref " + ref}, Key: ref, Nomination: id, What: "late submit"})
		if resp.Status != http.StatusUnprocessableEntity {
			return fmt.Errorf("a submission after the deadline was answered %s, want 422", resp)
		}
		return nil
	case c.Rush:
		doneEarly()
		park()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.rushGate:
		}
		err := s.submit(ctx, sess, c, id)
		if err == nil {
			s.rushSubmitted.Add(1)
		}
		rushPending = false
		s.rushLeft.Add(-1)
		return err
	}
	if err := s.submit(ctx, sess, c, id); err != nil {
		return err
	}
	if c.RequestChanges {
		park() // waiting on the panel
		if err := s.makeChanges(ctx, sess, c, id); err != nil {
			return err
		}
	}
	return nil
}

// register signs a new account up, signs it in and confirms its address
// through the link in its first mail.
func (s *scenario) register(ctx context.Context, sess *session, p person) error {
	anon := s.anon(p.Addr)
	for attempt := 0; ; attempt++ {
		resp := anon.call(ctx, request{Method: "POST", Path: "/api/v1/auth/register", Route: "POST /api/v1/auth/register",
			Body: map[string]string{"email": p.Email, "password": s.p.password, "name": p.Name}})
		if resp.Status == http.StatusAccepted {
			break
		}
		if resp.Status == http.StatusTooManyRequests {
			s.problem("registration of %s limited: %s", p.Email, resp)
			time.Sleep(retryAfter(resp))
			continue
		}
		if resp.Status != 0 || attempt > 5 {
			return fmt.Errorf("register: %s", resp)
		}
	}
	if err := sess.login(ctx); err != nil {
		return err
	}
	for asked := 0; ; asked++ {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		token, err := s.mailedToken(wctx, p.Email, "confirm", 0)
		cancel()
		if err != nil {
			if ctx.Err() != nil || asked > 1 {
				return fmt.Errorf("no confirmation mail: %w", err)
			}
			// The first link may never have been queued (an answer cut
			// short): ask for another, as the page offers.
			sess.call(ctx, request{Method: "POST", Path: "/api/v1/auth/confirm-email/resend", Route: "POST /api/v1/auth/confirm-email/resend"})
			continue
		}
		var resp response
		for try := 0; try < 5; try++ {
			resp = anon.call(ctx, request{Method: "POST", Path: "/api/v1/auth/confirm-email", Route: "POST /api/v1/auth/confirm-email",
				Body: map[string]string{"token": token}})
			if resp.Status == http.StatusNoContent {
				return nil
			}
			if resp.Status != 0 && resp.Status < 500 {
				break
			}
			settle()
		}
		// A link used by an attempt whose answer was lost: the account
		// says whether its address is confirmed.
		var me struct {
			EmailConfirmed bool `json:"email_confirmed"`
		}
		if m := sess.call(ctx, request{Method: "GET", Path: "/api/v1/me", Route: "GET /api/v1/me"}); m.Status == http.StatusOK && m.decode(&me) == nil && me.EmailConfirmed {
			return nil
		}
		return fmt.Errorf("confirm address: %s", resp)
	}
}

// settle waits before looking at what a request whose answer was lost
// did: the service may still be carrying it out.
func settle() { time.Sleep(time.Second) }

func retryAfter(r response) time.Duration {
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && n > 0 {
		return time.Duration(min(n, 60)) * time.Second
	}
	return time.Second
}

// fields returns c's answers to its call's form: every field of the
// workflow it knows, and a plausible answer to any other required one
// (files apart), so a field added to a workflow does not stop the run.
func (s *scenario) fields(c *candidate, ref string) map[string]any {
	known := c.fields(ref)
	out := map[string]any{}
	for _, f := range s.workflows[c.Call].Fields {
		if v, ok := known[f.Name]; ok {
			out[f.Name] = v
			continue
		}
		if !f.Required {
			continue
		}
		switch f.Type {
		case "choice":
			if len(f.Choices) > 0 {
				out[f.Name] = f.Choices[0]
			}
		case "text":
			out[f.Name] = "Not applicable"
		case "longtext":
			out[f.Name] = strings.Repeat("Not applicable. ", f.MinLen/16+1)
		case "bool":
			out[f.Name] = true
		case "country":
			out[f.Name] = c.Nationality
		case "email":
			out[f.Name] = c.Nominee.Email
		case "date":
			out[f.Name] = "1980-01-01"
		}
	}
	return out
}

// fileFields returns the required file fields of a call's form.
func (s *scenario) fileFields(call string) []string {
	var out []string
	for _, f := range s.workflows[call].Fields {
		if f.Type == "file" && f.Required {
			out = append(out, f.Name)
		}
	}
	return out
}

// createNomination opens the draft. When the answer is lost, the nominator
// looks at their nominations before trying again.
func (s *scenario) createNomination(ctx context.Context, sess *session, c *candidate) (string, error) {
	for attempt := 0; attempt < 6; attempt++ {
		ref := s.c.ref()
		body := map[string]any{"fields": s.fields(c, ref)}
		if c.ThirdParty {
			body["nominee"] = map[string]string{"name": c.Nominee.Name, "email": c.Nominee.Email}
		}
		resp := sess.call(ctx, request{Method: "POST", Path: "/api/v1/calls/" + c.Call + "/nominations", Route: "POST /api/v1/calls/:slug/nominations",
			Body: body, Cuttable: true, Key: ref, What: "create"})
		var n nominationBody
		if resp.Status == http.StatusCreated && resp.decode(&n) == nil {
			s.setID(c, n.ID)
			return n.ID, nil
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusCreated {
			return "", fmt.Errorf("create: %s", resp)
		}
		settle()
		mine, err := s.list(ctx, sess, "call", c.Call)
		if err != nil {
			continue
		}
		for _, m := range mine {
			if mot, _ := m.Fields["motivation"].(string); strings.Contains(mot, ref) {
				s.mu.Lock()
				s.adopted[ref] = true
				s.mu.Unlock()
				s.setID(c, m.ID)
				return m.ID, nil
			}
		}
	}
	return "", fmt.Errorf("create: gave up")
}

// get reads a nomination as who.
func (s *scenario) get(ctx context.Context, who *session, id string) (nominationBody, error) {
	var n nominationBody
	for attempt := 0; attempt < 10; attempt++ {
		resp := who.call(ctx, request{Method: "GET", Path: "/api/v1/nominations/" + id, Route: "GET /api/v1/nominations/:id"})
		if resp.Status == http.StatusOK {
			return n, resp.decode(&n)
		}
		if resp.Status != 0 && resp.Status < 500 {
			return n, fmt.Errorf("read %s: %s", id, resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return n, fmt.Errorf("read %s: no answer", id)
}

// upload sends the file of field (the CV).
func (s *scenario) upload(ctx context.Context, sess *session, c *candidate, id, field string) error {
	for attempt := 0; attempt < 6; attempt++ {
		ref := s.c.ref()
		name := field + "-" + ref + ".pdf"
		resp := sess.call(ctx, request{Method: "POST", Path: "/api/v1/nominations/" + id + "/attachments", Route: "POST /api/v1/nominations/:id/attachments",
			Multipart: &upload{Fields: map[string]string{"kind": field}, Field: "file", Filename: name, Data: minimalPDF},
			Cuttable:  true, Key: ref, Nomination: id, What: "upload"})
		if resp.Status == http.StatusCreated {
			return nil
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusTooManyRequests {
			return fmt.Errorf("upload: %s", resp)
		}
		settle()
		n, err := s.get(ctx, sess, id)
		if err != nil {
			return err
		}
		for _, a := range n.Attachments {
			if a.Filename == name {
				return nil
			}
		}
	}
	return fmt.Errorf("upload: gave up")
}

// askEndorsement asks c's endorser for support.
func (s *scenario) askEndorsement(ctx context.Context, sess *session, c *candidate, id string) error {
	for attempt := 0; attempt < 6; attempt++ {
		ref := s.c.ref()
		resp := sess.call(ctx, request{Method: "POST", Path: "/api/v1/nominations/" + id + "/endorsements", Route: "POST /api/v1/nominations/:id/endorsements",
			Body:     map[string]string{"name": c.Endorser.Name, "email": c.Endorser.Email, "organization": "Support Network " + ref},
			Cuttable: true, Key: ref, Nomination: id, What: "endorsement request"})
		if resp.Status == http.StatusCreated {
			return nil
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusConflict {
			return fmt.Errorf("ask for endorsement: %s", resp)
		}
		settle()
		n, err := s.get(ctx, sess, id)
		if err != nil {
			return err
		}
		for _, e := range n.Endorsements {
			if strings.EqualFold(e.Email, c.Endorser.Email) {
				return nil
			}
		}
		if resp.Status == http.StatusConflict {
			return fmt.Errorf("ask for endorsement: %s", resp)
		}
	}
	return fmt.Errorf("ask for endorsement: gave up")
}

// endorserFlow is the endorser following the mailed link and confirming.
func (s *scenario) endorserFlow(ctx context.Context, c *candidate, id string) error {
	token, err := s.mailedToken(ctx, c.Endorser.Email, "endorse", 0)
	if err != nil {
		return err
	}
	anon := s.anon(c.Endorser.Addr)
	path := "/api/v1/endorsements/" + token
	for attempt := 0; attempt < 6; attempt++ {
		var st struct{ Status string }
		resp := anon.call(ctx, request{Method: "GET", Path: path, Route: "GET /api/v1/endorsements/:token"})
		if resp.Status == http.StatusOK && resp.decode(&st) == nil && st.Status == "confirmed" {
			return nil
		}
		if resp.Status != http.StatusOK && resp.Status != 0 && resp.Status < 500 {
			return fmt.Errorf("open endorsement link: %s", resp)
		}
		ref := s.c.ref()
		resp = anon.call(ctx, request{Method: "POST", Path: path, Route: "POST /api/v1/endorsements/:token",
			Body:     map[string]string{"statement": "I have worked with the candidate and support the nomination. Ref " + ref + "."},
			Cuttable: true, Key: ref, Nomination: id, What: "endorsement"})
		if resp.Status == http.StatusOK {
			return nil
		}
		// 409: an earlier attempt cut off on the way back may have
		// confirmed it after the look above; the next look tells.
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusConflict {
			return fmt.Errorf("endorse: %s", resp)
		}
		settle()
	}
	return fmt.Errorf("endorse: gave up")
}

// nomineeFlow is the nominee answering the consent link.
func (s *scenario) nomineeFlow(ctx context.Context, c *candidate, id string) error {
	token, err := s.mailedToken(ctx, c.Nominee.Email, "consent", 0)
	if err != nil {
		return err
	}
	anon := s.anon(c.Nominee.Addr)
	decision := "accept"
	want := "accepted"
	if c.ConsentDecline {
		decision, want = "decline", "declined"
	}
	path := "/api/v1/consent/" + token
	for attempt := 0; attempt < 6; attempt++ {
		var st struct{ Consent string }
		resp := anon.call(ctx, request{Method: "GET", Path: path, Route: "GET /api/v1/consent/:token"})
		if resp.Status == http.StatusOK && resp.decode(&st) == nil && st.Consent == want {
			return nil
		}
		if resp.Status != http.StatusOK && resp.Status != 0 && resp.Status < 500 {
			return fmt.Errorf("open consent link: %s", resp)
		}
		resp = anon.call(ctx, request{Method: "POST", Path: path, Route: "POST /api/v1/consent/:token",
			Body: map[string]string{"decision": decision}, Cuttable: true, Key: "consent/" + id, Nomination: id, What: "consent"})
		if resp.Status == http.StatusOK {
			return nil
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusConflict {
			return fmt.Errorf("consent: %s", resp)
		}
		settle()
	}
	return fmt.Errorf("consent: gave up")
}

// act takes an action as who and makes sure the nomination reached want;
// a lost answer is followed by a look at the nomination.
func (s *scenario) act(ctx context.Context, who *session, c *candidate, id, action, want string) error {
	for attempt := 0; attempt < 6; attempt++ {
		ref := s.c.ref()
		body := map[string]any{"comment": "Ref " + ref}
		if action == "reject" {
			body = map[string]any{"reason": "Not eligible: the nomination does not meet the call's criteria. Ref " + ref}
		}
		resp := who.call(ctx, request{Method: "POST", Path: "/api/v1/nominations/" + id + "/actions/" + action, Route: "POST /api/v1/nominations/:id/actions/:action",
			Body: body, Cuttable: true, Key: ref, Nomination: id, What: action})
		if resp.Status == http.StatusOK {
			return nil
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusConflict {
			return fmt.Errorf("%s: %s", action, resp)
		}
		// No answer, or not possible now: perhaps because an earlier
		// attempt whose answer was lost did it. A look says.
		settle()
		n, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		if n.State == want {
			return nil
		}
		if resp.Status == http.StatusConflict {
			return fmt.Errorf("%s: %s (the nomination is %s)", action, resp, n.State)
		}
	}
	return fmt.Errorf("%s: gave up", action)
}

// submit submits the draft.
func (s *scenario) submit(ctx context.Context, sess *session, c *candidate, id string) error {
	if err := s.act(ctx, sess, c, id, "submit", "submitted"); err != nil {
		// Screening may have moved it on already after a lost answer.
		n, gerr := s.get(ctx, sess, id)
		if gerr != nil || n.State == "draft" {
			return err
		}
	}
	s.submitted.Add(1)
	return nil
}

// changesLook is how long a nominator waiting for the panel's request for
// changes goes without its mail before looking at the nomination: the
// mail may be late (an outage) or never come (an address refusing it).
const changesLook = 30 * time.Second

// makeChanges waits for the panel to send the nomination back, edits the
// motivation and submits again. The nominator waits for the mail saying
// so, and looks at the nomination when it has not come for changesLook,
// as a person does: not every second, which for a crowd waiting on the
// panels at once would be most of what the service is asked.
func (s *scenario) makeChanges(ctx context.Context, sess *session, c *candidate, id string) error {
	var n nominationBody
	for {
		wctx, cancel := context.WithTimeout(ctx, changesLook)
		_, _ = s.sink.waitFor(wctx, c.Account.Email, func(m *mailMsg) bool {
			return strings.Contains(strings.ToLower(m.Subject), "changes requested") && nominationOf(m) == id
		})
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		n, err = s.get(ctx, sess, id)
		if err != nil {
			return err
		}
		if n.State == "draft" && n.Round >= 1 {
			break
		}
		if n.State != "submitted" && n.State != "panel_review" {
			return fmt.Errorf("waiting for the panel's request for changes, the nomination went to %s", n.State)
		}
	}
	for attempt := 0; attempt < 6; attempt++ {
		ref := s.c.ref()
		resp := sess.call(ctx, request{Method: "PATCH", Path: "/api/v1/nominations/" + id, Route: "PATCH /api/v1/nominations/:id",
			Header:   map[string]string{"If-Match": strconv.Quote(strconv.Itoa(n.Version))},
			Body:     map[string]any{"fields": map[string]any{"motivation": motivation(c, ref) + " Revised as the panel asked."}},
			Cuttable: true, Key: ref, Nomination: id, What: "edit"})
		if resp.Status == http.StatusOK {
			break
		}
		if resp.Status != 0 && resp.Status < 500 && resp.Status != http.StatusPreconditionFailed {
			return fmt.Errorf("edit after the request for changes: %s", resp)
		}
		settle()
		fresh, err := s.get(ctx, sess, id)
		if err != nil {
			return err
		}
		if mot, _ := fresh.Fields["motivation"].(string); strings.Contains(mot, ref) {
			break
		}
		n = fresh
	}
	s.setRound(c, 2)
	return s.submit(ctx, sess, c, id)
}
