package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"iter"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// Shortlists turns the nomination domain's tables and candidates into
// export files, balance reports and suggested shortlists: the part of this
// package the HTTP API and the command line call.
type Shortlists struct{}

// ParseTargets reads a call's targets (JSON with only the known keys) and
// validates them. Empty input is no targets at all. Errors are EINVALID
// *nomination.Error naming the field.
func ParseTargets(raw json.RawMessage) (Targets, error) {
	var t Targets
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return t, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, nomination.Invalid(nomination.Problem("targets", "NotTargets", "not a targets object: {{.Problem}}", "Problem", err.Error()))
	}
	return t, t.Validate()
}

// ValidateTargets checks a call's targets; it suits nomination.Config's
// ValidateTargets.
func ValidateTargets(raw json.RawMessage) error {
	_, err := ParseTargets(raw)
	return err
}

// ContentType returns the media type of format, or EINVALID on "format".
func (Shortlists) ContentType(format string) (string, error) {
	f, err := ParseFormat(format)
	if err != nil {
		return "", err
	}
	return f.ContentType(), nil
}

// WriteExport writes t to w in format, a CSV's or XLSX's header row in
// English; bom starts a CSV with a UTF-8 byte order mark.
func (s Shortlists) WriteExport(ctx context.Context, w io.Writer, format string, t nomination.ExportTable, bom bool) error {
	return s.WriteExportSaid(ctx, w, format, t, bom, phrase.Text.String)
}

// sheetNominations names the worksheet of an XLSX export.
var sheetNominations = phrase.New("ExportSheetNominations", "Nominations")

// WriteExportSaid writes t as WriteExport does, the header row of a CSV
// or XLSX and the XLSX's worksheet name said by say (a localizer's Say,
// for the reader's language; the workflow's headings in its own
// translations); a nil say writes the stable machine keys instead
// (Layout.Keys) on a worksheet named Nominations. The JSON export names
// its columns by key and English header whatever say is.
func (Shortlists) WriteExportSaid(ctx context.Context, w io.Writer, format string, t nomination.ExportTable, bom bool, say func(phrase.Text) string) error {
	f, err := ParseFormat(format)
	if err != nil {
		return err
	}
	cols := func(in []nomination.ExportColumn) []Column {
		out := make([]Column, len(in))
		for i, c := range in {
			out[i] = Column{Key: c.Key, Header: c.Header, Texts: c.Texts}
		}
		return out
	}
	layout, err := NewLayout(cols(t.Fields), cols(t.Stages))
	if err != nil {
		return err
	}
	rows := func(yield func(Row, error) bool) {
		for r, err := range t.Rows {
			if !yield(toRow(r), err) || err != nil {
				return
			}
		}
	}
	var header []string
	sheet := sheetNominations.English
	if say == nil {
		header = layout.Keys()
	} else {
		header, sheet = layout.HeaderSaid(say), say(sheetNominations)
	}
	switch f {
	case CSV:
		return WriteCSV(ctx, w, layout, iter.Seq2[Row, error](rows), CSVOptions{BOM: bom, Header: header})
	case XLSX:
		return WriteXLSX(ctx, w, layout, rows, XLSXOptions{Header: header, SheetName: sheet})
	default:
		return WriteJSON(ctx, w, layout, rows)
	}
}

func toRow(r nomination.ExportRow) Row {
	row := Row{ID: r.ID, Call: r.Call, State: r.State, NomineeName: r.NomineeName, NomineeEmail: r.NomineeEmail,
		Organization: r.Organization, Fields: r.Fields, SubmittedAt: r.SubmittedAt, Endorsements: r.Endorsements,
		Stages: make(map[string]Tally, len(r.Stages))}
	for k, t := range r.Stages {
		row.Stages[k] = Tally{Approve: t.Approve, Reject: t.Reject, RequestChanges: t.RequestChanges, Recuse: t.Recuse, Scored: t.Scored, MeanScore: t.MeanScore}
	}
	for _, a := range r.Attachments {
		row.Attachments = append(row.Attachments, Attachment{Kind: a.Kind, Filename: a.Filename, URL: a.URL})
	}
	return row
}

func candidates(in []nomination.Candidate) []Candidate {
	out := make([]Candidate, len(in))
	for i, c := range in {
		out[i] = Candidate{ID: c.ID, Score: c.Score, Fields: c.Fields}
	}
	return out
}

// Balance reports the composition of items against the call's targets.
func (Shortlists) Balance(targets json.RawMessage, seats int, items []nomination.Candidate) (any, error) {
	t, err := ParseTargets(targets)
	if err != nil {
		return nil, err
	}
	return ComputeBalance(candidates(items), seats, t)
}

// Suggest proposes the best-scored shortlist of seats that meets the
// call's targets.
func (Shortlists) Suggest(ctx context.Context, targets json.RawMessage, seats int, items []nomination.Candidate) (any, error) {
	t, err := ParseTargets(targets)
	if err != nil {
		return nil, err
	}
	return Suggest(ctx, candidates(items), seats, t)
}

// WriteTable writes a plain table, a header and rows of text, as CSV or
// XLSX with every cell neutralised against spreadsheet formulas as the
// shortlist exports are (a roster, say); sheet names the XLSX's worksheet
// (made a name Excel takes, "Sheet1" when nothing is left of it). Errors:
// EINVALID on "format".
func (Shortlists) WriteTable(ctx context.Context, w io.Writer, format, sheet string, header []string, rows iter.Seq2[[]string, error]) error {
	f, err := ParseFormat(format)
	if err != nil {
		return err
	}
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		cw.UseCRLF = true
		out := make([]string, len(header))
		write := func(cells []string) error {
			out = out[:0]
			for _, c := range cells {
				out = append(out, CellText(c))
			}
			return cw.Write(out)
		}
		if err := write(header); err != nil {
			return err
		}
		for r, err := range rows {
			if err != nil {
				return err
			}
			if err := write(r); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case XLSX:
		values := func(yield func([]any, error) bool) {
			var vals []any
			for r, err := range rows {
				if err != nil {
					yield(nil, err)
					return
				}
				vals = vals[:0]
				for _, c := range r {
					vals = append(vals, CellText(c))
				}
				if !yield(vals, nil) {
					return
				}
			}
		}
		return writeSheet(ctx, w, header, values, XLSXOptions{SheetName: SheetName(sheet, "Sheet1")})
	default:
		return nomination.Invalid(nomination.Problem("format", "CSVOrXLSX", "csv or xlsx"))
	}
}
