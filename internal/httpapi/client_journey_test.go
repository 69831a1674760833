package httpapi

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/igf/nomina/apiclient"
	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/export"
)

// The candidate → reviewer → secretariat journey driven through the Go
// client generated from the OpenAPI document, over HTTP, against the real
// router and the embedded store (and held to the document as every API
// test is). Only what a client cannot do itself is done beside it: the
// first admin is provisioned as NOMINA_ADMIN_EMAIL provisions it, and
// mailed links are read from the mail queue, as their recipients would
// read them from their mail.
func TestJourneyThroughTheGeneratedClient(t *testing.T) {
	st, _ := newMemberStack(t, export.Shortlists{})
	srv := httptest.NewServer(st.srv.Handler())
	defer srv.Close()
	ctx := context.Background()
	api, err := apiclient.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// expect fails the test unless the answer has the status.
	expect := func(what string, status int, rsp interface {
		StatusCode() int
	}, body []byte) {
		t.Helper()
		if rsp.StatusCode() != status {
			t.Fatalf("%s: status %d, want %d: %s", what, rsp.StatusCode(), status, body)
		}
	}
	signIn := func(email string) apiclient.RequestEditorFn {
		t.Helper()
		rsp, err := api.LoginWithResponse(ctx, apiclient.LoginJSONRequestBody{Email: email, Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		expect("login "+email, http.StatusOK, rsp, rsp.Body)
		if rsp.JSON200.TokenType != apiclient.Bearer || rsp.JSON200.ExpiresIn <= 0 {
			t.Fatalf("tokens: %+v", rsp.JSON200)
		}
		st.secretsMu.Lock()
		st.secrets = append(st.secrets, rsp.JSON200.AccessToken, rsp.JSON200.RefreshToken)
		st.secretsMu.Unlock()
		return apiclient.BearerToken(rsp.JSON200.AccessToken)
	}
	ptr := func(s string) *string { return &s }

	// The first admin creates the secretariat officer, who creates the
	// two reviewers of the civil society panel.
	st.mustUser("admin@igf.example", []auth.Role{auth.RoleAdmin}, nil, "")
	admin := signIn("admin@igf.example")
	sec := func() apiclient.RequestEditorFn {
		rsp, err := api.CreateUserWithResponse(ctx, apiclient.CreateUserJSONRequestBody{
			Email: "sec@igf.example", Name: "Sam Secretariat", Roles: []apiclient.Role{apiclient.RoleSecretariat}, Password: ptr(testPassword),
		}, admin)
		if err != nil {
			t.Fatal(err)
		}
		expect("create the secretariat officer", http.StatusCreated, rsp, rsp.Body)
		if loc := rsp.HTTPResponse.Header.Get("Location"); loc != "/api/v1/users/"+rsp.JSON201.Id {
			t.Fatalf("Location %q", loc)
		}
		return signIn("sec@igf.example")
	}()
	var reviewers []apiclient.RequestEditorFn
	for i, email := range []string{"rosa@example.org", "raj@example.org"} {
		panels := []apiclient.Panel{"civil_society"}
		rsp, err := api.CreateUserWithResponse(ctx, apiclient.CreateUserJSONRequestBody{
			Email: openapi_types.Email(email), Name: "Reviewer " + strconv.Itoa(i), Roles: []apiclient.Role{apiclient.RoleReviewer},
			Panels: &panels, Organization: ptr("Network " + strconv.Itoa(i)), Password: ptr(testPassword),
		}, sec)
		if err != nil {
			t.Fatal(err)
		}
		expect("create a reviewer", http.StatusCreated, rsp, rsp.Body)
		reviewers = append(reviewers, signIn(email))
	}

	// The secretariat opens the MAG call.
	now := st.clock.Now()
	{
		rsp, err := api.CreateCallWithResponse(ctx, apiclient.CreateCallJSONRequestBody{
			Slug: "mag-2027", Title: "MAG renewal 2027", Workflow: "mag", Seats: 40,
			OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(30 * 24 * time.Hour), TermStart: ptrTime(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)),
		}, sec)
		if err != nil {
			t.Fatal(err)
		}
		expect("open the call", http.StatusCreated, rsp, rsp.Body)
	}

	// The candidate registers, confirms the address from the mail, signs
	// in and finds the open call without signing in.
	{
		rsp, err := api.RegisterWithResponse(ctx, apiclient.RegisterJSONRequestBody{Email: "ana@example.org", Password: testPassword, Name: "Ana Okafor"})
		if err != nil {
			t.Fatal(err)
		}
		expect("register", http.StatusAccepted, rsp, rsp.Body)
		token := strings.TrimPrefix(st.mailedLink("", "confirm_email", "ana@example.org", "confirm"), "/confirm-email/")
		confirmed, err := api.ConfirmEmailWithResponse(ctx, apiclient.ConfirmEmailJSONRequestBody{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		expect("confirm the address", http.StatusNoContent, confirmed, confirmed.Body)
	}
	ana := signIn("ana@example.org")
	me, err := api.GetMeWithResponse(ctx, ana)
	mustOK(t, err)
	if me.JSON200 == nil || !me.JSON200.EmailConfirmed {
		t.Fatalf("me: %+v", me)
	}
	calls, err := api.ListCallsWithResponse(ctx)
	mustOK(t, err)
	if calls.JSON200 == nil || len(calls.JSON200.Items) != 1 || !calls.JSON200.Items[0].Open {
		t.Fatalf("open calls: %s", calls.Body)
	}

	// A draft with some answers, completed with If-Match; a stale version
	// is refused.
	answers := func(kv map[string]any) apiclient.FieldValues {
		out := apiclient.FieldValues{}
		for k, v := range kv {
			var fv apiclient.FieldValue
			var err error
			switch v := v.(type) {
			case string:
				err = fv.FromFieldValue0(v)
			case bool:
				err = fv.FromFieldValue1(v)
			}
			if err != nil {
				t.Fatal(err)
			}
			out[k] = fv
		}
		return out
	}
	fields := answers(map[string]any{"stakeholder_group": "civil_society", "nationality": "KE", "gender": "female"})
	created, err := api.CreateNominationWithResponse(ctx, "mag-2027", apiclient.CreateNominationJSONRequestBody{Fields: &fields}, ana)
	if err != nil {
		t.Fatal(err)
	}
	expect("start a nomination", http.StatusCreated, created, created.Body)
	n := created.JSON201
	if n.State != "draft" || !n.SelfNominated || created.HTTPResponse.Header.Get("ETag") != strconv.Quote(strconv.Itoa(n.Version)) {
		t.Fatalf("draft: %+v, ETag %q", n, created.HTTPResponse.Header.Get("ETag"))
	}
	rest := apiclient.FieldChanges{}
	for k, v := range answers(map[string]any{
		"organization": "Kenya ICT Action Network", "declaration": true,
		"motivation": strings.Repeat("I have worked on internet governance in East Africa for a decade. ", 4),
	}) {
		rest[k] = &v
	}
	etag := created.HTTPResponse.Header.Get("ETag")
	patched, err := api.UpdateNominationWithResponse(ctx, n.Id, &apiclient.UpdateNominationParams{IfMatch: etag}, apiclient.UpdateNominationJSONRequestBody{Fields: rest}, ana)
	if err != nil {
		t.Fatal(err)
	}
	expect("complete the form", http.StatusOK, patched, patched.Body)
	stale, err := api.UpdateNominationWithResponse(ctx, n.Id, &apiclient.UpdateNominationParams{IfMatch: etag}, apiclient.UpdateNominationJSONRequestBody{Fields: rest}, ana)
	if err != nil {
		t.Fatal(err)
	}
	expect("a change from a stale version", http.StatusPreconditionFailed, stale, stale.Body)
	if stale.ApplicationproblemJSON412 == nil || stale.ApplicationproblemJSON412.Status != http.StatusPreconditionFailed {
		t.Fatalf("the 412 is not a problem document: %s", stale.Body)
	}

	// The CV, then an endorsement confirmed from the endorser's mail.
	{
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("kind", "cv")
		fw, _ := mw.CreateFormFile("file", "cv.pdf")
		_, _ = fw.Write(minimalPDF)
		_ = mw.Close()
		rsp, err := api.UploadAttachmentWithBodyWithResponse(ctx, n.Id, mw.FormDataContentType(), &body, ana)
		if err != nil {
			t.Fatal(err)
		}
		expect("upload the CV", http.StatusCreated, rsp, rsp.Body)
		if rsp.JSON201.Kind != "cv" || rsp.JSON201.ContentType != "application/pdf" || rsp.JSON201.Size != len(minimalPDF) {
			t.Fatalf("attachment: %+v", rsp.JSON201)
		}
		asked, err := api.RequestEndorsementWithResponse(ctx, n.Id, apiclient.RequestEndorsementJSONRequestBody{
			Name: "Eve Endorser", Email: "eve@example.org", Organization: ptr("Civil Society Network"),
		}, ana)
		if err != nil {
			t.Fatal(err)
		}
		expect("ask for an endorsement", http.StatusCreated, asked, asked.Body)
		token := strings.TrimPrefix(st.apiLink(n.Id, "endorsement_request", "eve@example.org", "endorse"), "/api/v1/endorsements/")
		opened, err := api.OpenEndorsementWithResponse(ctx, token)
		mustOK(t, err)

		if opened.JSON200 == nil || opened.JSON200.Nominee != "Ana Okafor" {
			t.Fatalf("open the endorsement link: %s", opened.Body)
		}
		done, err := api.ConfirmEndorsementWithResponse(ctx, token, apiclient.ConfirmEndorsementJSONRequestBody{Statement: "I support Ana."})
		if err != nil {
			t.Fatal(err)
		}
		expect("confirm the endorsement", http.StatusOK, done, done.Body)
	}
	act := func(who apiclient.RequestEditorFn, action string, body apiclient.TakeActionJSONRequestBody) *apiclient.Nomination {
		t.Helper()
		rsp, err := api.TakeActionWithResponse(ctx, n.Id, action, body, who)
		if err != nil {
			t.Fatal(err)
		}
		expect(action, http.StatusOK, rsp, rsp.Body)
		return rsp.JSON200
	}
	if got := act(ana, "submit", apiclient.TakeActionJSONRequestBody{}); got.State != "submitted" {
		t.Fatalf("submitted: %s", got.State)
	}

	// The secretariat screens it and admits it to its panel's review.
	counts, err := api.CountStatesWithResponse(ctx, "mag-2027", sec)
	mustOK(t, err)
	if counts.JSON200 == nil || counts.JSON200.Counts["submitted"] != 1 {
		t.Fatalf("counts: %s", counts.Body)
	}
	if got := act(sec, "admit", apiclient.TakeActionJSONRequestBody{}); got.State != "panel_review" || got.Panel == nil || *got.Panel != "civil_society" {
		t.Fatalf("admitted: %+v", got)
	}

	// Each reviewer finds it in the panel's queue and approves it; the
	// second approval decides the review.
	for i, rev := range reviewers {
		panel := "civil_society"
		queue, err := api.ListNominationsWithResponse(ctx, &apiclient.ListNominationsParams{Panel: &panel}, rev)
		mustOK(t, err)

		if queue.JSON200 == nil || len(queue.JSON200.Items) != 1 || queue.JSON200.Items[0].Id != n.Id {
			t.Fatalf("reviewer %d's queue: %v %s", i, err, queue.Body)
		}
		if queue.JSON200.Items[0].Nominator != nil {
			t.Fatal("a reviewer sees the nominator")
		}
		vote, err := api.CastVoteWithResponse(ctx, n.Id, apiclient.CastVoteJSONRequestBody{Decision: apiclient.Approve, Comment: ptr("Strong regional experience.")}, rev)
		if err != nil {
			t.Fatal(err)
		}
		expect("vote", http.StatusCreated, vote, vote.Body)
	}

	// The secretariat weighs the balance, shortlists, appoints, exports,
	// and finds the new member on the body's roster from the term start.
	got, err := api.GetNominationWithResponse(ctx, n.Id, sec)
	mustOK(t, err)

	if got.JSON200 == nil || got.JSON200.State != "secretariat_review" {
		t.Fatalf("after the review: %s", got.Body)
	}
	if got.JSON200.Votes == nil || len(*got.JSON200.Votes) != 2 {
		t.Fatalf("votes the secretariat sees: %s", got.Body)
	}
	state := "secretariat_review"
	balance, err := api.GetBalanceWithResponse(ctx, "mag-2027", &apiclient.GetBalanceParams{State: &state}, sec)
	mustOK(t, err)

	if balance.JSON200 == nil || balance.JSON200.Members != 1 || balance.JSON200.Seats != 40 {
		t.Fatalf("balance: %s", balance.Body)
	}
	act(sec, "shortlist", apiclient.TakeActionJSONRequestBody{})
	if appointed := act(sec, "appoint", apiclient.TakeActionJSONRequestBody{}); appointed.State != "appointed" {
		t.Fatalf("appointed: %s", appointed.State)
	}
	format := apiclient.ExportCallParamsFormatJson
	exported, err := api.ExportCallWithResponse(ctx, "mag-2027", &apiclient.ExportCallParams{Format: &format}, sec)
	mustOK(t, err)

	if exported.JSON200 == nil || len(*exported.JSON200) != 1 || (*exported.JSON200)[0].State != "appointed" || (*exported.JSON200)[0].Endorsements != 1 {
		t.Fatalf("export: %s", exported.Body)
	}
	if d := exported.HTTPResponse.Header.Get("Content-Disposition"); !strings.HasPrefix(d, "attachment") {
		t.Fatalf("export disposition %q", d)
	}
	rosterFormat := apiclient.GetRosterParamsFormatJson
	roster, err := api.GetRosterWithResponse(ctx, "mag", &apiclient.GetRosterParams{Format: &rosterFormat,
		ActiveOn: &openapi_types.Date{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}}, sec)
	mustOK(t, err)

	if roster.JSON200 == nil || len(roster.JSON200.Members) != 1 || roster.JSON200.Members[0].Email != "ana@example.org" {
		t.Fatalf("roster: %s", roster.Body)
	}
	history, err := api.GetHistoryWithResponse(ctx, n.Id, sec)
	mustOK(t, err)

	if history.JSON200 == nil || history.JSON200.Verification == nil || !history.JSON200.Verification.Verified {
		t.Fatalf("history: %s", history.Body)
	}

	// The candidate sees the outcome; nobody else's nominations.
	mine, err := api.ListNominationsWithResponse(ctx, nil, ana)
	mustOK(t, err)

	if mine.JSON200 == nil || len(mine.JSON200.Items) != 1 || mine.JSON200.Items[0].State != "appointed" {
		t.Fatalf("the candidate's list: %s", mine.Body)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// mustOK fails the test on a transport error.
func mustOK(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
