package web

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// The states the balance page looks at: the selection is what has been
// shortlisted; the suggestion chooses among what the panels recommended
// and what is shortlisted already.
var (
	selectionStates = []string{"shortlisted"}
	poolStates      = []string{"secretariat_review", "shortlisted"}
)

// chartPatterns tell the bars apart without colour.
var chartPatterns = []string{"p0", "p1", "p2", "p3", "p4", "p5"}

// barChart draws the composition of one field against its bounds.
func (rq *request) barChart(id string, fb export.FieldBalance, seats int) BarChart {
	L := rq.L
	const width, labelH, barH, gap = 340, 16, 18, 12
	c := BarChart{ID: id, Title: L.T("ChartTitle", "Field", fb.Label), Width: width}
	scale := seats
	for _, v := range fb.Values {
		scale = max(scale, v.Count)
		if v.MaxSeats != nil {
			scale = max(scale, *v.MaxSeats)
		}
		if v.MinSeats != nil {
			scale = max(scale, *v.MinSeats)
		}
	}
	scale = max(scale, 1)
	const drawW = width - 90 // room for the count and "missed" after the longest bar
	x := func(n int) int { return int(math.Round(float64(n) * drawW / float64(scale))) }
	var desc []string
	t := Table{L: L, Caption: L.T("ChartTableCaption", "Field", fb.Label), RowHeader: true, Head: []TableHeader{
		{Text: fb.Label}, {Text: L.T("ColSeatsHeld"), Numeric: true}, {Text: L.T("ColShare"), Numeric: true}, {Text: L.T("ColTarget")}, {Text: L.T("ColMet")}}}
	y := 0
	mins, maxs := false, false
	for i, v := range fb.Values {
		label := L.TOr("Choice_"+fb.Field+"_"+v.Value, v.Label)
		b := ChartBar{Label: label, ValueText: strconv.Itoa(v.Count), Pattern: chartPatterns[i%len(chartPatterns)]}
		b.LabelY = y + labelH - 3
		b.Y = y + labelH
		b.W = max(x(v.Count), 1)
		b.TextX = b.W + 6
		b.TextY = b.Y + barH - 4
		b.MarkY1, b.MarkY2 = b.Y-1, b.Y+barH+3
		var target []string
		met := true
		if v.MinSeats != nil {
			mins = true
			b.Min = &ChartMark{X: x(*v.MinSeats), Text: L.N("TargetMin", *v.MinSeats)}
			target = append(target, b.Min.Text)
			if v.Count < *v.MinSeats {
				met = false
			}
		}
		if v.MaxSeats != nil {
			maxs = true
			b.Max = &ChartMark{X: x(*v.MaxSeats), Text: L.N("TargetMax", *v.MaxSeats)}
			target = append(target, b.Max.Text)
			if v.Count > *v.MaxSeats {
				met = false
			}
		}
		if !met {
			b.Broken, b.BrokenText = true, L.T("ChartBroken")
		}
		metText := L.T("BoolYes")
		if !met {
			metText = L.T("TargetMissed")
		}
		if len(target) == 0 {
			target, metText = []string{L.T("TargetNone")}, "–"
		}
		share := L.T("Percent", "Value", strconv.Itoa(int(math.Round(v.Share*100))))
		t.Rows = append(t.Rows, TableRow{Cells: []TableCell{Cell(label), Cell(strconv.Itoa(v.Count)), Cell(share), {Lines: target}, Cell(metText)}})
		desc = append(desc, L.T("ChartDescItem", "Label", label, "Count", v.Count, "Target", strings.Join(target, ", ")))
		c.Bars = append(c.Bars, b)
		y += labelH + barH + gap
	}
	for _, n := range []int{0, scale / 2, scale} {
		c.Ticks = append(c.Ticks, ChartTick{X: min(max(x(n), 8), drawW), Text: strconv.Itoa(n)})
	}
	c.TickY = y + 10
	c.Height = y + 16
	c.Desc = L.T("ChartDesc", "Seats", seats, "Items", strings.Join(desc, "; "))
	if mins {
		c.Legend = append(c.Legend, ChartLegend{Mark: "min", Text: L.T("LegendMin")})
	}
	if maxs {
		c.Legend = append(c.Legend, ChartLegend{Mark: "max", Text: L.T("LegendMax")})
	}
	c.Table = t
	return c
}

// findingText says a target the selection misses, or one that binds, in
// words.
func (rq *request) findingText(f export.Finding, labels map[string]string, fieldLabels map[string]string) string {
	L := rq.L
	var vals []string
	for _, v := range f.Values {
		vals = append(vals, orDefault(labels[f.Field+"."+v], humanize(v)))
	}
	values := strings.Join(vals, ", ")
	field := orDefault(fieldLabels[f.Field], humanize(f.Field))
	switch f.Kind {
	case "min":
		return L.N("FindingMin", f.Limit, "Values", values, "Have", f.Have, "Off", f.Off)
	case "max":
		return L.N("FindingMax", f.Limit, "Values", values, "Have", f.Have, "Off", f.Off)
	case "spread":
		return L.T("FindingSpread", "Field", field, "Values", values, "Limit", f.Limit, "Have", f.Have)
	case "seats":
		return L.T("FindingSeats", "Limit", f.Limit, "Have", f.Have)
	}
	return f.Message
}

type pickView struct {
	Name, Href string
	Why        []string
	Status     Tag
}

type balanceData struct {
	Page
	Caption, Heading, Summary, SuggestSummary string
	Charts                                    []BarChart
	Broken                                    []string
	Picks                                     Table
	Feasible                                  bool
	Unmet, Binding                            []string
	ToShortlist                               []string
	Action                                    string
	Confirm                                   Button
	Links                                     []Link
	NothingToDo                               string
}

// balanceInputs loads what the balance page and the one-step shortlist
// work on.
func (h *Handler) balanceInputs(rq *request, call nomination.Call, q nomination.ShortlistQuery) (selection, pool []nomination.Candidate, targets export.Targets, err error) {
	targets, err = export.ParseTargets(call.Targets)
	if err != nil {
		return nil, nil, targets, err
	}
	q.States = selectionStates
	if _, selection, err = h.cfg.Nominations.Candidates(rq.ctx, rq.actor(), call.Slug, q); err != nil {
		return
	}
	q.States = poolStates
	_, pool, err = h.cfg.Nominations.Candidates(rq.ctx, rq.actor(), call.Slug, q)
	return
}

func toExport(in []nomination.Candidate) []export.Candidate {
	out := make([]export.Candidate, len(in))
	for i, c := range in {
		out[i] = export.Candidate{ID: c.ID, Score: c.Score, Fields: c.Fields}
	}
	return out
}

func (h *Handler) balancePage(rq *request) {
	L := rq.L
	call, def, ok := h.staffCall(rq)
	if !ok {
		return
	}
	tq := readTableQuery(rq.r.URL.Query())
	q := nomination.ShortlistQuery{FieldEquals: tq.Fields, Query: tq.Q}
	selection, pool, targets, err := h.balanceInputs(rq, call, q)
	if err != nil {
		rq.failWith(err)
		return
	}
	rep, err := export.ComputeBalance(toExport(selection), call.Seats, targets)
	if err != nil {
		rq.failWith(err)
		return
	}
	ctx, cancel := context.WithTimeout(rq.ctx, 20*time.Second)
	defer cancel()
	sug, err := export.Suggest(ctx, toExport(pool), call.Seats, targets)
	if err != nil {
		rq.failWith(err)
		return
	}
	d := balanceData{Page: rq.staffPage(L.T("BalanceTitle", "Call", call.Title)), Caption: call.Title, Heading: L.T("BalanceHeading"),
		Action: "/secretariat/calls/" + url.PathEscape(call.Slug) + "/shortlist", Links: callLinks(L, call.Slug)[:1]}
	d.Back = &Link{Href: "/secretariat/calls/" + url.PathEscape(call.Slug) + "/nominations", Text: L.T("BackToTable")}
	d.Summary = L.T("BalanceSummary", "Members", rep.Members, "Seats", call.Seats)
	labels, fieldLabels := map[string]string{}, map[string]string{}
	for _, fb := range rep.Fields {
		fieldLabels[fb.Field] = fb.Label
		for _, v := range fb.Values {
			labels[fb.Field+"."+v.Value] = L.TOr("Choice_"+fb.Field+"_"+v.Value, v.Label)
		}
		if f, ok := def.Field(fb.Field); ok {
			fieldLabels[fb.Field] = f.Label
			fb.Label = f.Label
		}
		d.Charts = append(d.Charts, rq.barChart("chart-"+strings.ReplaceAll(fb.Field, "_", "-"), fb, rep.Seats))
	}
	for _, f := range rep.Broken {
		d.Broken = append(d.Broken, rq.findingText(f, labels, fieldLabels))
	}
	d.Feasible = sug.Feasible
	d.SuggestSummary = L.N("SuggestSummary", len(sug.Picks), "Pool", len(pool), "Score", formatScore(sug.TotalScore))
	for _, f := range sug.Unmet {
		d.Unmet = append(d.Unmet, rq.findingText(f, labels, fieldLabels))
	}
	for _, f := range sug.Binding {
		d.Binding = append(d.Binding, L.T("BindingLine", "Rule", rq.findingText(f, labels, fieldLabels), "Gain", formatScore(f.Gain)))
	}
	d.Picks, d.ToShortlist = h.picksTable(rq, def, pool, sug)
	if len(d.ToShortlist) > 0 {
		d.Confirm = Button{Text: L.N("ShortlistButton", len(d.ToShortlist))}
	} else {
		d.NothingToDo = L.T("ShortlistNothing")
	}
	rq.render(http.StatusOK, "balance", d)
}

// picksTable lists the suggested shortlist, with why each was picked, and
// the ids of the picks not yet shortlisted.
func (h *Handler) picksTable(rq *request, def *workflow.Definition, pool []nomination.Candidate, sug export.Suggestion) (Table, []string) {
	L := rq.L
	byID := map[string]nomination.Candidate{}
	for _, c := range pool {
		byID[c.ID] = c
	}
	// Rank within the pool by score, for "why".
	rank := map[string]int{}
	for _, c := range pool {
		r := 1
		for _, o := range pool {
			if o.Score > c.Score {
				r++
			}
		}
		rank[c.ID] = r
	}
	bounds := map[string]export.ValueBalance{}
	for _, fb := range sug.Report.Fields {
		for _, v := range fb.Values {
			bounds[fb.Field+"."+v.Value] = v
		}
	}
	t := Table{L: L, ID: "picks", Caption: L.T("PicksCaption"), RowHeader: true, Head: []TableHeader{
		{Text: L.T("ColNominee")}, {Text: L.T("ColStatus")}, {Text: L.T("ColScore"), Numeric: true}, {Text: L.T("ColWhy")}}}
	var todo []string
	for _, p := range sug.Picks {
		c := byID[p.ID]
		why := []string{L.T("WhyScore", "Score", formatScore(p.Score), "Rank", rank[p.ID], "Pool", len(pool))}
		for _, field := range tableFilters {
			v := c.Fields[field]
			if v == "" {
				continue
			}
			vb, ok := bounds[field+"."+v]
			if !ok || vb.MinSeats == nil {
				continue
			}
			label := L.TOr("Choice_"+field+"_"+v, vb.Label)
			why = append(why, L.N("WhyMinimum", *vb.MinSeats, "Value", label))
		}
		st := rq.stateTag(c.State)
		if c.State != "shortlisted" {
			todo = append(todo, c.ID)
		}
		t.Rows = append(t.Rows, TableRow{Cells: []TableCell{{Lines: []string{c.Name}, Href: "/secretariat/nominations/" + url.PathEscape(c.ID)},
			{Tag: &st}, Cell(formatScore(p.Score)), {Lines: why}}})
	}
	return t, todo
}

type shortlistData struct {
	Page
	Caption, Heading, Action, Summary string
	Confirm                           bool
	Names                             []string
	IDs                               []string
	Button                            Button
	Outcomes                          Table
	BalanceHref                       string
}

// shortlistSuggestion shortlists the suggestion in one step: the first
// post shows who would be shortlisted and asks to confirm; the confirmed
// post takes the action on each and reports how many were done and what
// failed. When any pick cannot be shortlisted, nothing is.
func (h *Handler) shortlistSuggestion(rq *request) {
	L := rq.L
	if !rq.parseForm() {
		return
	}
	call, _, ok := h.staffCall(rq)
	if !ok {
		return
	}
	ids := rq.r.PostForm["id"]
	if len(ids) == 0 || len(ids) > nomination.MaxBulk {
		rq.fail(http.StatusBadRequest, "ErrorBadRequestTitle", "ShortlistNone")
		return
	}
	balance := "/secretariat/calls/" + url.PathEscape(call.Slug) + "/balance"
	d := shortlistData{Page: rq.staffPage(L.T("ShortlistTitle")), Caption: call.Title, Action: rq.r.URL.Path, IDs: ids, BalanceHref: balance}
	d.Back = &Link{Href: balance, Text: L.T("BackToBalance")}
	if rq.form("confirm") != "yes" {
		for _, id := range ids {
			v, err := h.cfg.Nominations.Get(rq.ctx, rq.actor(), id)
			if err != nil {
				rq.failWith(err)
				return
			}
			d.Names = append(d.Names, v.Nomination.Nominee.Name)
		}
		d.Heading = L.N("ShortlistConfirmHeading", len(ids))
		d.Confirm = true
		d.Button = Button{Text: L.T("ShortlistConfirmButton"), Name: "confirm", Value: "yes"}
		rq.render(http.StatusOK, "shortlist", d)
		return
	}
	res, err := h.cfg.Nominations.ActOnMany(rq.ctx, rq.actor(), ids, "shortlist", nomination.ActionInput{})
	if err != nil {
		rq.failWith(err)
		return
	}
	status := http.StatusOK
	switch {
	case res.Checked:
		status = http.StatusConflict
		d.Heading = L.T("ShortlistNoneDone")
		d.Summary = L.N("ShortlistCheckedFailed", res.Failed)
	case res.Failed > 0:
		status = http.StatusConflict
		d.Heading = L.N("ShortlistPartly", res.Done, "Failed", res.Failed)
		d.Summary = L.T("ShortlistPartlyBody")
	default:
		d.Heading = L.N("ShortlistDone", res.Done)
	}
	d.Outcomes = Table{L: L, ID: "outcomes", Caption: L.T("ShortlistOutcomeCaption"), RowHeader: true, Head: []TableHeader{{Text: L.T("ColNominee")}, {Text: L.T("ColOutcome")}}}
	for _, o := range res.Outcomes {
		var what []string
		tag := Tag{Text: L.T("OutcomeDone"), Colour: "green"}
		switch {
		case o.Done:
		case o.NotAvailable:
			tag = Tag{Text: L.T("OutcomeFailed"), Colour: "red"}
			what = []string{L.T("OutcomeNotAvailable", "State", rq.stateName(o.State))}
		case len(o.Reasons) > 0:
			tag = Tag{Text: L.T("OutcomeFailed"), Colour: "red"}
			what = sayAll(L, o.Why)
		case o.Problem != "":
			tag = Tag{Text: L.T("OutcomeFailed"), Colour: "red"}
			what = []string{say(L, o.ProblemText)}
		default:
			tag = Tag{Text: L.T("OutcomeNotTried"), Colour: "grey"}
		}
		if res.Checked && !o.NotAvailable && len(o.Reasons) == 0 && o.Problem == "" {
			tag = Tag{Text: L.T("OutcomeNotTried"), Colour: "grey"}
		}
		t := tag
		d.Outcomes.Rows = append(d.Outcomes.Rows, TableRow{Cells: []TableCell{{Lines: []string{orDefault(o.Name, o.ID)}, Href: "/secretariat/nominations/" + url.PathEscape(o.ID)},
			{Tag: &t, Lines: what}}})
	}
	rq.render(status, "shortlist", d)
}

// exportFile streams the call's nominations, with the table's filters, as
// a download in the format the path names.
func (h *Handler) exportFile(rq *request) {
	format := strings.TrimPrefix(path.Ext(rq.r.URL.Path), ".")
	f, err := export.ParseFormat(format)
	if err != nil {
		rq.notFound()
		return
	}
	tq := readTableQuery(rq.r.URL.Query())
	q := nomination.ShortlistQuery{FieldEquals: tq.Fields, Query: tq.Q}
	if tq.State != "" {
		q.States = []string{tq.State}
	}
	table, err := h.cfg.Nominations.Export(rq.ctx, rq.actor(), rq.r.PathValue("slug"), q)
	if err != nil {
		rq.failWith(err)
		return
	}
	name := fmt.Sprintf("%s-nominations-%s.%s", table.Call.Slug, h.now().UTC().Format("2006-01-02"), f)
	hd := rq.w.Header()
	hd.Set("Content-Type", f.ContentType())
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Language", rq.L.Lang)
	rq.w.WriteHeader(http.StatusOK)
	// The download starts at once, before the store's first rows: the
	// browser shows it under way rather than a page that hangs.
	_ = http.NewResponseController(rq.w).Flush()
	d := clientclose.NewDownload(rq.w)
	if err := (export.Shortlists{}).WriteExportSaid(rq.ctx, d, string(f), table, false, rq.L.Say); err != nil {
		// The headers are out: the download is cut short; the log says
		// why, a failure unless the reader left.
		rq.cut(d, err, slog.LevelError, "export failed mid-stream")
	}
}
