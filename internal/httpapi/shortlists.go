package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/igf/nomina/internal/clientclose"
	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// Shortlists writes exports and judges the balance of a selection;
// cmd/nomina wires the export package's implementation.
type Shortlists interface {
	ContentType(format string) (string, error)
	WriteExport(ctx context.Context, w io.Writer, format string, t nomination.ExportTable, bom bool) error
	// WriteExportSaid is WriteExport with the header row of a CSV or XLSX
	// said by say (the reader's language), or the stable machine keys
	// when say is nil.
	WriteExportSaid(ctx context.Context, w io.Writer, format string, t nomination.ExportTable, bom bool, say func(phrase.Text) string) error
	Balance(targets json.RawMessage, seats int, items []nomination.Candidate) (any, error)
	Suggest(ctx context.Context, targets json.RawMessage, seats int, items []nomination.Candidate) (any, error)
	// WriteTable writes a plain table (a roster) as CSV or XLSX, every
	// cell neutralised against spreadsheet formulas, on the worksheet
	// named sheet.
	WriteTable(ctx context.Context, w io.Writer, format, sheet string, header []string, rows iter.Seq2[[]string, error]) error
}

func (s *Server) shortlistRoutes() {
	const v1 = "/api/v1"
	staff := Roles("secretariat")
	s.Handle(http.MethodGet, v1+"/calls/:slug/export", staff, s.exportCall)
	s.Handle(http.MethodGet, v1+"/calls/:slug/balance", staff, s.balance)
	s.Handle(http.MethodGet, v1+"/calls/:slug/balance/suggest", staff, s.suggest)
	s.Handle(http.MethodGet, v1+"/calls/:slug/counts", staff, s.stateCounts)
}

// choiceFilters are the form answers the secretariat may filter lists and
// exports by.
var choiceFilters = []string{"stakeholder_group", "region", "economic_group", "gender", "nationality"}

func shortlistQuery(c *gin.Context) (nomination.ShortlistQuery, error) {
	q := nomination.ShortlistQuery{Query: c.Query("q"), FieldEquals: fieldFilters(c)}
	for _, st := range c.QueryArray("state") {
		for _, part := range strings.Split(st, ",") {
			if part = strings.TrimSpace(part); part != "" {
				q.States = append(q.States, part)
			}
		}
	}
	if len(q.States) > 20 || len(q.Query) > 200 {
		return q, nomination.Invalid(nomination.Problem("state", "AtMost20States", "at most 20 states"))
	}
	return q, nil
}

func fieldFilters(c *gin.Context) map[string]string {
	var m map[string]string
	for _, f := range choiceFilters {
		if v := c.Query(f); v != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[f] = v
		}
	}
	return m
}

func (s *Server) exportCall(c *gin.Context) {
	format := c.DefaultQuery("format", "csv")
	ctype, err := s.cfg.Shortlists.ContentType(format)
	if err != nil {
		s.fail(c, err)
		return
	}
	var say func(phrase.Text) string
	var lang string
	if !strings.EqualFold(format, "json") { // JSON names columns by key and header
		if say, lang, err = s.headerSay(c); err != nil {
			s.fail(c, err)
			return
		}
	}
	q, err := shortlistQuery(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	table, err := s.cfg.Nominations.Export(c.Request.Context(), actorOf(c), c.Param("slug"), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	name := exportFileName(table.Call.Slug, format, s.cfg.Nominations.Now().UTC())
	c.Header("Content-Type", ctype)
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	headerLanguage(c, lang)
	c.Status(http.StatusOK)
	// The headers go out before the store's first rows: the download is
	// under way while a slow store answers.
	_ = http.NewResponseController(c.Writer).Flush()
	bom := c.Query("bom") == "1" || c.Query("bom") == "true"
	body := clientclose.NewDownload(c.Writer)
	if err := s.cfg.Shortlists.WriteExportSaid(c.Request.Context(), body, format, table, bom, say); err != nil {
		// The headers are out: the client sees a cut file; the log says why.
		s.cut(c, body, err, "export failed mid-stream")
	}
}

// cut records a download err ended after its headers went out. When its
// client went away (the request's context cancelled, and err that
// cancellation met at the store, or a write to the client failing) it is
// a client close: logged at info, and 499 in the access log and the
// metrics, as a request abandoned before its answer. Anything else is
// logged as the failure what.
func (s *Server) cut(c *gin.Context, d *clientclose.Download, err error, what string) {
	if d.Cut(c.Request.Context(), err) {
		s.log.Info("client closed request", append(logAttrs(c), "method", c.Request.Method, "download", "cut short", "err", err)...)
		c.Set(clientClosedKey, true)
	} else {
		s.log.Error(what, append(logAttrs(c), "err", err)...)
	}
	c.Abort()
}

// headerSay reads the header query parameter of a CSV or XLSX download:
// "language" (the default) says the header row in the language
// Accept-Language asks for, returned as lang for Content-Language;
// "machine" gives the stable snake_case column keys, the same in every
// language (a nil say, no lang). Anything else is EINVALID on "header".
func (s *Server) headerSay(c *gin.Context) (say func(phrase.Text) string, lang string, err error) {
	switch c.DefaultQuery("header", "language") {
	case "language":
	case "machine":
		return nil, "", nil
	default:
		return nil, "", nomination.Invalid(nomination.Problem("header", "HeaderOneOf", "must be language or machine"))
	}
	lang = locale.Match(c.GetHeader("Accept-Language"))
	if s.msgs == nil {
		return phrase.Text.String, locale.Source, nil
	}
	return s.msgs.In(lang).Say, lang, nil
}

// headerLanguage says, on a download about to be written, the language of
// its header row (none for machine keys) and that it follows
// Accept-Language.
func headerLanguage(c *gin.Context, lang string) {
	if lang != "" {
		c.Header("Content-Language", lang)
		c.Writer.Header().Add("Vary", "Accept-Language")
	}
}

// exportFileName is "<call>-nominations-<date>.<format>".
func exportFileName(slug, format string, now time.Time) string {
	return slug + "-nominations-" + now.Format("2006-01-02") + "." + strings.ToLower(format)
}

// selection reads the query of a balance or suggestion: the call, its
// nominations in the asked states, and the seats. ok is false when the
// answer has been written already.
func (s *Server) selection(c *gin.Context) (nomination.Call, []nomination.Candidate, int, bool) {
	q, err := shortlistQuery(c)
	if err != nil {
		s.fail(c, err)
		return nomination.Call{}, nil, 0, false
	}
	call, items, err := s.cfg.Nominations.Candidates(c.Request.Context(), actorOf(c), c.Param("slug"), q)
	if err != nil {
		s.fail(c, err)
		return nomination.Call{}, nil, 0, false
	}
	seats, err := seatsParam(c, call.Seats)
	if err != nil {
		s.fail(c, err)
		return nomination.Call{}, nil, 0, false
	}
	return call, items, seats, true
}

func (s *Server) balance(c *gin.Context) {
	call, items, seats, ok := s.selection(c)
	if !ok {
		return
	}
	report, err := s.cfg.Shortlists.Balance(call.Targets, seats, items)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}

func seatsParam(c *gin.Context, def int) (int, error) {
	v := c.Query("seats")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, nomination.Fail(nomination.EBADREQUEST, "SeatsNumber", "seats must be a number from 1 to 1000").
			With(nomination.Problem("seats", "Number1To1000", "a number from 1 to 1000"))
	}
	return n, nil
}

func (s *Server) suggest(c *gin.Context) {
	call, items, seats, ok := s.selection(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 20*time.Second)
	defer cancel()
	out, err := s.cfg.Shortlists.Suggest(ctx, call.Targets, seats, items)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) stateCounts(c *gin.Context) {
	counts, err := s.cfg.Nominations.StateCounts(c.Request.Context(), actorOf(c), c.Param("slug"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"call": c.Param("slug"), "counts": counts})
}
