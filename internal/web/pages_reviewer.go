package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

func (h *Handler) reviewRoutes() {
	h.reviewer("GET /review", h.reviewQueue)
	h.reviewer("GET /review/{id}", h.reviewPage)
	h.reviewer("POST /review/{id}/vote", h.vote)
	h.reviewer("POST /review/{id}/conflict", h.declareConflict)
}

// dueWords says how long is left until due, in days, for the reader.
func (rq *request) dueWords(due time.Time) string {
	if due.IsZero() {
		return rq.L.T("DueNone")
	}
	left := due.Sub(rq.h.now())
	days := int(math.Ceil(left.Hours() / 24))
	switch {
	case left < 0:
		return rq.L.N("DueOverdue", int(math.Ceil(-left.Hours()/24)))
	case days <= 1 && left < 24*time.Hour:
		return rq.L.T("DueToday")
	default:
		return rq.L.N("DueDaysLeft", days)
	}
}

// callTitles maps the calls the reader may see to their titles.
func (h *Handler) callTitles(rq *request) map[string]string {
	a := rq.actor()
	calls, err := h.cfg.Nominations.ListCalls(rq.ctx, &a)
	out := map[string]string{}
	if err != nil {
		if !rq.clientGone(err) { // else the page's next step meets it too
			h.log.Warn("list calls", "err", err)
		}
		return out
	}
	for _, c := range calls {
		out[c.Slug] = c.Title
	}
	return out
}

func (rq *request) decisionName(d string) string {
	return rq.L.TOr("Decision_"+d, humanize(d))
}

// myVote returns the reader's vote in the round under way, if any.
func myVote(v *nomination.View, userID string) (nomination.Vote, bool) {
	n := v.Nomination
	for _, x := range n.CurrentVotes(n.State) {
		if x.Reviewer == userID {
			return x, true
		}
	}
	return nomination.Vote{}, false
}

// lastVote returns the reader's latest vote on the nomination, any round.
func lastVote(n *nomination.Nomination, userID string) (nomination.Vote, bool) {
	for i := len(n.Votes) - 1; i >= 0; i-- {
		if n.Votes[i].Reviewer == userID {
			return n.Votes[i], true
		}
	}
	return nomination.Vote{}, false
}

// reviewOpen reports whether the nomination is at a review stage whose
// panel the reader sits on.
func (rq *request) reviewOpen(v *nomination.View) bool {
	return v.Panel != "" && rq.actor().OnPanel(v.Panel)
}

func (h *Handler) reviewQueue(rq *request) {
	L := rq.L
	page, err := h.cfg.Nominations.List(rq.ctx, rq.actor(), nomination.ListQuery{Limit: nomination.MaxPageSize, Cursor: rq.r.URL.Query().Get("cursor")})
	if err != nil {
		if nomination.ErrorCode(err) == nomination.EINVALID {
			rq.notFound()
			return
		}
		rq.failWith(err)
		return
	}
	titles := h.callTitles(rq)
	d := struct {
		Page
		Waiting, Voted, Conflicts Table
		Counts                    string
		Pages                     Pagination
	}{Page: rq.page(L.T("QueueTitle")), Pages: Pagination{L: L}}
	d.Nav = "review"
	d.Wide = true
	if page.Next != "" {
		d.Pages.Next = "/review?cursor=" + url.QueryEscape(page.Next)
	}
	d.Waiting = Table{L: L, ID: "waiting", Caption: L.T("QueueWaitingHeading"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColNominee")}, {Text: L.T("ColCall")}, {Text: L.T("ColStage")}, {Text: L.T("ColDue")}, {Text: L.T("ColTimeLeft")}}}
	d.Voted = Table{L: L, ID: "voted", Caption: L.T("QueueVotedHeading"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColNominee")}, {Text: L.T("ColCall")}, {Text: L.T("ColYourVote")}, {Text: L.T("ColStatus")}}}
	d.Conflicts = Table{L: L, ID: "conflicts", Caption: L.T("QueueConflictsHeading"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColNominee")}, {Text: L.T("ColCall")}, {Text: L.T("ColReason")}}}
	uid := rq.user.UserID
	for _, v := range page.Items {
		if v.Role == "owner" {
			continue // the reviewer's own nominations are on their own page
		}
		n := v.Nomination
		href := "/review/" + url.PathEscape(n.ID)
		name := TableCell{Lines: []string{n.Nominee.Name}, Href: href}
		call := Cell(orDefault(titles[n.CallSlug], n.CallSlug))
		switch {
		case v.Conflicted:
			reason := L.T("ConflictAutomatic")
			if v.OwnConflict != nil {
				reason = v.OwnConflict.Reason
			}
			d.Conflicts.Rows = append(d.Conflicts.Rows, TableRow{Cells: []TableCell{name, call, Cell(reason)}})
		case rq.reviewOpen(v) && !hasVoted(v, uid):
			due := Cell(L.T("DueNone"))
			if !n.StageDue.IsZero() {
				due = Cell(rq.day(n.StageDue))
			}
			d.Waiting.Rows = append(d.Waiting.Rows, TableRow{Cells: []TableCell{name, call,
				Cell(L.T("StageRound", "Stage", rq.stateName(n.State), "Round", n.Round)), due, Cell(rq.dueWords(n.StageDue))}})
		default:
			mine := L.T("VoteNone")
			if x, ok := lastVote(n, uid); ok {
				mine = rq.decisionName(x.Decision)
				if x.Score != nil {
					mine = L.T("VoteWithScore", "Decision", mine, "Score", formatScore(*x.Score))
				}
			}
			st := rq.stateTag(n.State)
			d.Voted.Rows = append(d.Voted.Rows, TableRow{Cells: []TableCell{name, call, Cell(mine), {Tag: &st}}})
		}
	}
	d.Counts = L.N("QueueWaitingCount", len(d.Waiting.Rows))
	if c := rq.r.URL.Query().Get("conflict"); c != "" {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("ConflictRecorded"), Success: true}
	}
	rq.render(http.StatusOK, "review-queue", d)
}

func hasVoted(v *nomination.View, uid string) bool {
	_, ok := myVote(v, uid)
	return ok
}

func formatScore(f float64) string {
	if f == math.Trunc(f) {
		return strconv.Itoa(int(f))
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// reviewed is a nomination as a reviewer looks at it.
type reviewed struct {
	v    *nomination.View
	n    *nomination.Nomination
	def  *workflow.Definition
	call nomination.Call
	base string
}

func (h *Handler) loadReviewed(rq *request) (*reviewed, bool) {
	v, err := h.cfg.Nominations.Get(rq.ctx, rq.actor(), rq.r.PathValue("id"))
	if err != nil {
		rq.failWith(err)
		return nil, false
	}
	if v.Role == "owner" {
		rq.notFound()
		return nil, false
	}
	n := v.Nomination
	def, call, ok := h.rulesOf(rq, n)
	if !ok {
		return nil, false
	}
	return &reviewed{v: v, n: n, def: def, call: call, base: "/review/" + url.PathEscape(n.ID)}, true
}

// review is the review stage under way, or nil.
func (r *reviewed) review() *workflow.Review {
	if st, ok := r.def.State(r.n.State); ok {
		return st.Review
	}
	return nil
}

type voteForm struct {
	Decision, Score, Comment, Reason string
}

func (h *Handler) reviewPage(rq *request) {
	r, ok := h.loadReviewed(rq)
	if !ok {
		return
	}
	h.renderReview(rq, r, http.StatusOK, nil, voteForm{})
}

// reviewData is the review page.
type reviewData struct {
	Page
	Caption, Heading, StageLine, DueLine string
	ConflictNotice, VotesWait            string
	Answers, Endorsements                SummaryList
	Files                                []Link
	Earlier                              []string
	MyVote                               *SummaryList
	CanVote                              bool
	NotOpen                              string
	Action, ConflictAction               string
	Decision                             Radios
	Score                                *Radios
	Comment, Reason                      Textarea
	Submit, ConflictSubmit               Button
	CanDeclare                           bool
	Votes                                *Table
}

func (h *Handler) renderReview(rq *request, r *reviewed, status int, fe *formErrors, f voteForm) {
	L := rq.L
	n, v := r.n, r.v
	uid := rq.user.UserID
	d := reviewData{Page: rq.page(L.T("ReviewTitle", "Nominee", n.Nominee.Name)), Caption: r.call.Title,
		Heading: n.Nominee.Name, Action: r.base + "/vote", ConflictAction: r.base + "/conflict"}
	d.Nav = "review"
	d.Back = &Link{Href: "/review", Text: L.T("BackToQueue")}
	d.Errors = fe.summary()
	rv := r.review()
	if rv != nil {
		d.StageLine = L.T("StageRoundLine", "Stage", rq.stateName(n.State), "Round", n.Round)
		if !n.StageDue.IsZero() {
			d.DueLine = L.T("DueLine", "Date", rq.day(n.StageDue), "Left", rq.dueWords(n.StageDue))
		}
	} else {
		d.StageLine = L.T("StageClosedLine", "State", rq.stateName(n.State))
	}
	if rq.r.URL.Query().Get("voted") != "" && fe == nil {
		d.Banner = &Banner{Title: L.T("BannerSuccess"), Heading: L.T("VoteRecorded"), Success: true}
	}
	// The answers a reviewer may see: the domain has removed the others.
	d.Answers = SummaryList{L: L}
	for _, fd := range r.def.Fields {
		if fd.Type == workflow.TypeFile || (!fd.ReviewerVisible && v.Role == "reviewer") {
			continue
		}
		d.Answers.Rows = append(d.Answers.Rows, SummaryRow{ID: "answer-" + fd.Name, Key: fd.Label, Value: strings.Split(rq.answerText(fd, n.Fields[fd.Name]), "\n")})
	}
	for _, a := range n.Attachments {
		d.Files = append(d.Files, Link{Href: "/nominations/" + url.PathEscape(n.ID) + "/files/" + url.PathEscape(a.ID),
			Text: L.T("FileLink", "File", a.Filename, "Size", megabytes(a.Size))})
	}
	d.Endorsements = SummaryList{L: L}
	for _, e := range n.Endorsements {
		key := e.Name
		if e.Organization != "" {
			key = L.T("EndorserWithOrg", "Name", e.Name, "Organization", e.Organization)
		}
		row := SummaryRow{ID: "endorsement-" + e.ID, Key: key}
		switch e.Status {
		case "confirmed":
			row.Value = []string{L.T("EndorsementConfirmed", "Date", rq.day(e.ConfirmedAt))}
			if e.Statement != "" {
				row.Value = append(row.Value, L.T("Quoted", "Text", e.Statement))
			}
		case "declined":
			row.Value = []string{L.T("EndorsementDeclined")}
		default:
			row.Value = []string{L.T("EndorsementWaitingShort")}
		}
		d.Endorsements.Rows = append(d.Endorsements.Rows, row)
	}
	// What earlier rounds asked: the changes requested, in the
	// reviewers' words, and the comment that returned it.
	for _, x := range n.Votes {
		if x.Round < n.Round || x.Stage != n.State {
			if x.Decision == workflow.VoteRequestChanges && x.Comment != "" {
				d.Earlier = append(d.Earlier, L.T("EarlierAsked", "Round", x.Round, "Comment", x.Comment))
			}
		}
	}
	switch {
	case v.Conflicted:
		d.ConflictNotice = L.T("ConflictNoticeAutomatic")
		if v.OwnConflict != nil {
			d.ConflictNotice = L.T("ConflictNoticeDeclared", "Date", rq.day(v.OwnConflict.At), "Reason", v.OwnConflict.Reason)
		}
	case rv == nil || !rq.reviewOpen(v):
		d.NotOpen = L.T("VoteNotOpen", "State", rq.stateName(n.State))
	default:
		mine, voted := myVote(v, uid)
		if voted {
			list := SummaryList{L: L, Rows: []SummaryRow{{ID: "my-decision", Key: L.T("ColYourVote"), Value: []string{rq.decisionName(mine.Decision)}}}}
			if mine.Score != nil {
				list.Rows = append(list.Rows, SummaryRow{ID: "my-score", Key: L.T("LabelScore"), Value: []string{formatScore(*mine.Score)}})
			}
			if mine.Comment != "" {
				list.Rows = append(list.Rows, SummaryRow{ID: "my-comment", Key: L.T("LabelComment"), Value: strings.Split(mine.Comment, "\n")})
			}
			d.MyVote = &list
		}
		d.CanVote = !voted || rv.AllowChange
		if voted && !rv.AllowChange {
			d.NotOpen = L.T("VoteOnceOnly")
		}
	}
	d.SwitchForm = d.CanVote
	if d.CanVote {
		d.Decision = Radios{L: L, Name: "decision", Legend: L.T("LabelDecision"), Error: fe.get("decision")}
		for i, o := range rv.Options {
			id := "decision"
			if i > 0 {
				id += "-" + strconv.Itoa(i+1)
			}
			d.Decision.Items = append(d.Decision.Items, Choice{ID: id, Value: o, Label: rq.decisionName(o), Hint: L.TOr("DecisionHint_"+o, ""), Checked: f.Decision == o})
		}
		if rv.Score != nil {
			sc := &Radios{L: L, Name: "score", Legend: L.T("LabelScore"), Inline: true, Error: fe.get("score"),
				Hint: L.T("ScoreHint", "Min", rv.Score.Min, "Max", rv.Score.Max), Optional: !rv.Score.Required}
			if rv.Score.Required {
				sc.Hint = L.T("ScoreHintRequired", "Min", rv.Score.Min, "Max", rv.Score.Max)
			}
			for s := rv.Score.Min; s <= rv.Score.Max; s++ {
				id := "score"
				if s > rv.Score.Min {
					id += "-" + strconv.Itoa(s)
				}
				sc.Items = append(sc.Items, Choice{ID: id, Value: strconv.Itoa(s), Label: strconv.Itoa(s), Checked: f.Score == strconv.Itoa(s)})
			}
			d.Score = sc
		}
		d.Comment = Textarea{L: L, ID: "comment", Name: "comment", Label: L.T("LabelComment"), Hint: L.T("CommentHint"), Value: f.Comment,
			Error: fe.get("comment"), Optional: true, Rows: 5}
		if slices.Contains(rv.Options, workflow.VoteRequestChanges) {
			d.Comment.Hint = L.T("CommentHintChanges")
		}
		d.Submit = Button{Text: L.T("VoteButton")}
	}
	if !v.Conflicted && v.Role == "reviewer" {
		d.CanDeclare = true
		d.Reason = Textarea{L: L, ID: "reason", Name: "reason", Label: L.T("LabelConflictReason"), Hint: L.T("ConflictReasonHint"), Value: f.Reason, Error: fe.get("reason"), Rows: 3}
		d.ConflictSubmit = Button{Text: L.T("ConflictButton"), Secondary: true}
	}
	// The panel's votes: the domain shows them after the reader's own
	// vote in the round, never to a conflicted reviewer.
	if v.VotesAfterOwn && !v.Conflicted && rq.reviewOpen(v) {
		d.VotesWait = L.T("VotesAfterOwn")
	}
	if v.ShowVotes && len(n.Votes) > 0 {
		t := h.votesTable(rq, n)
		d.Votes = &t
	}
	rq.render(status, "review", d)
}

// votesTable lists the votes the reader may see, per round.
func (h *Handler) votesTable(rq *request, n *nomination.Nomination) Table {
	L := rq.L
	t := Table{L: L, ID: "votes", Caption: L.T("VotesCaption"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColReviewer")}, {Text: L.T("ColRound")}, {Text: L.T("ColDecision")}, {Text: L.T("LabelScore"), Numeric: true}, {Text: L.T("LabelComment")}, {Text: L.T("ColWhen")}}}
	names := map[string]string{}
	for _, x := range n.Votes {
		name, ok := names[x.Reviewer]
		if !ok {
			name = L.T("ReviewerUnknown")
			if u, err := h.cfg.Accounts.User(rq.ctx, x.Reviewer); err == nil {
				name = u.Name
			}
			if x.Reviewer == rq.user.UserID {
				name = L.T("ReviewerYou")
			}
			names[x.Reviewer] = name
		}
		score := ""
		if x.Score != nil {
			score = formatScore(*x.Score)
		}
		t.Rows = append(t.Rows, TableRow{Cells: []TableCell{Cell(name), Cell(L.T("StageRound", "Stage", rq.stateName(x.Stage), "Round", x.Round)),
			Cell(rq.decisionName(x.Decision)), Cell(score), {Lines: strings.Split(orDefault(x.Comment, "–"), "\n")}, Cell(rq.when(x.At))}})
	}
	return t
}

func (h *Handler) vote(rq *request) {
	if !rq.parseForm() {
		return
	}
	L := rq.L
	f := voteForm{Decision: rq.form("decision"), Score: rq.form("score"), Comment: rq.form("comment")}
	fe := newFormErrors(L)
	in := nomination.VoteInput{Decision: f.Decision, Comment: f.Comment}
	if rq.switched {
		if r, ok := h.loadReviewed(rq); ok {
			h.renderReview(rq, r, http.StatusOK, fe, f)
		}
		return
	}
	if f.Decision == "" {
		fe.add("decision", L.T("RequiredVoteDecision"))
	}
	if f.Score != "" {
		s, err := strconv.Atoi(f.Score)
		if err != nil {
			fe.add("score", L.T("ScoreWhole"))
		} else {
			sf := float64(s)
			in.Score = &sf
		}
	}
	if !fe.any() {
		_, err := h.cfg.Nominations.CastVote(rq.ctx, rq.actor(), rq.r.PathValue("id"), in)
		if err == nil {
			rq.redirect("/review/" + url.PathEscape(rq.r.PathValue("id")) + "?voted=1")
			return
		}
		switch nomination.ErrorCode(err) {
		case nomination.ECONFLICT, nomination.EFORBIDDEN:
			h.voteRefused(rq, err)
			return
		}
		if !fe.addDomain(err,
			field{"decision", "decision", L.T("LabelDecision"), "RequiredVoteDecision"},
			field{"score", "score", L.T("LabelScore"), "RequiredScore"},
			field{"comment", "comment", L.T("LabelComment"), "RequiredComment"}) {
			rq.failWith(err)
			return
		}
	}
	r, ok := h.loadReviewed(rq)
	if !ok {
		return
	}
	h.renderReview(rq, r, http.StatusUnprocessableEntity, fe, f)
}

// voteRefused answers a vote that came too late, twice, or from someone
// who may not vote, with a page that says what happened (409 or 403).
func (h *Handler) voteRefused(rq *request, err error) {
	L := rq.L
	r, ok := h.loadReviewed(rq)
	if !ok {
		return
	}
	n := r.n
	p := messagePage{Page: rq.page(L.T("VoteNotCountedTitle")), Heading: L.T("VoteNotCountedTitle")}
	p.Nav = "review"
	status := http.StatusConflict
	mine, voted := myVote(r.v, rq.user.UserID)
	switch {
	case nomination.ErrorCode(err) == nomination.EFORBIDDEN:
		status = http.StatusForbidden
		p.Body = []string{L.T("VoteRefusedConflict")}
	case r.review() == nil || !rq.reviewOpen(r.v):
		p.Body = []string{L.T("VoteTooLate", "State", rq.stateName(n.State))}
	case voted:
		p.Body = []string{L.T("VoteTwice", "Decision", rq.decisionName(mine.Decision), "When", rq.when(mine.At))}
	default:
		var de *nomination.Error
		p.Body = []string{L.T("ErrorConflictBody")}
		if errors.As(err, &de) {
			p.Body = append(p.Body, sayError(L, de))
		}
	}
	p.Links = []Link{{Href: r.base, Text: L.T("VoteSeeNomination")}, {Href: "/review", Text: L.T("BackToQueue")}}
	rq.render(status, "message", p)
}

func (h *Handler) declareConflict(rq *request) {
	if !rq.parseForm() {
		return
	}
	L := rq.L
	reason := rq.form("reason")
	fe := newFormErrors(L)
	if reason == "" {
		fe.add("reason", L.T("RequiredConflictReason"))
	} else {
		err := h.cfg.Nominations.DeclareConflict(rq.ctx, rq.actor(), rq.r.PathValue("id"), reason)
		if err == nil {
			rq.redirect("/review?conflict=" + url.QueryEscape(rq.r.PathValue("id")))
			return
		}
		if !fe.addDomain(err, field{"reason", "reason", L.T("LabelConflictReason"), "RequiredConflictReason"}) {
			rq.failWith(err)
			return
		}
	}
	r, ok := h.loadReviewed(rq)
	if !ok {
		return
	}
	h.renderReview(rq, r, http.StatusUnprocessableEntity, fe, voteForm{Reason: reason})
}
