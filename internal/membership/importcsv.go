package membership

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
)

// Import modes.
const (
	// ImportStrict stores nothing when any row is bad.
	ImportStrict = "strict"
	// ImportSkip stores the good rows and reports the bad ones.
	ImportSkip = "skip"
)

// ImportColumns are the columns an import file may have, in any order,
// named in a header line. email, name and start are required; body may
// come from ImportOptions.Body instead; end defaults to a term of the
// body's length; seat_kind defaults to stakeholder_group; region follows a
// listed nationality.
var ImportColumns = []string{"body", "email", "name", "seat_kind", "stakeholder_group", "region", "gender",
	"nationality", "organization", "start", "end"}

// MaxImportRows bounds the data rows of one import file.
const MaxImportRows = 5000

// ImportOptions says how to import.
type ImportOptions struct {
	// DryRun checks every row and stores nothing.
	DryRun bool
	// Mode is ImportStrict (the default when empty) or ImportSkip.
	Mode string
	// Body is the body of rows that name none.
	Body string
}

// ImportReport says what an import did, or would do on a dry run.
type ImportReport struct {
	DryRun bool
	Mode   string
	// Rows counts the data rows read.
	Rows int
	// Good counts the rows without problems, Bad those with; Existing
	// counts good rows whose term is recorded already, exactly so (an
	// import run twice); they are not stored again.
	Good, Bad, Existing int
	// Stored counts the terms created; 0 on a dry run and on a strict
	// import with bad rows.
	Stored int
	// Errors lists every bad row with its line in the file (the header is
	// line 1) and each of its problems.
	Errors []RowError
}

// RowError is one bad row of an import file.
type RowError struct {
	Line     int
	Email    string
	Problems []nomination.FieldError
}

// importRow is one good row, ready to store.
type importRow struct {
	line    int
	body    Body
	profile Profile
	start   time.Time
	end     time.Time
	exists  bool
}

// Import reads past members from CSV (a header line naming ImportColumns,
// then one row per term) and stores them with source "import": each row
// creates the member when the person is new to the body (or brings an
// older profile up to the row's) and one term. Every row is checked before
// anything is stored: the email, name, seat, stakeholder group, region,
// gender and nationality against the body's form; the dates; overlaps with
// the person's other rows and with the terms stored already. A row equal
// to a stored term (same person, start and end) is counted as Existing,
// so an import can be run again.
//
// The report lists every bad row. With bad rows a strict import stores
// nothing and returns the report with an EINVALID error naming each
// problem as "line N: field"; a skip import stores the good rows. Errors:
// EFORBIDDEN unless staff; EINVALID for an unknown mode, a file that is
// not CSV, lacks the header or a required column, names an unknown column
// or has more than MaxImportRows rows; store errors (the rows before the
// failing one are stored then).
func (s *Service) Import(ctx context.Context, actor nomination.Actor, r io.Reader, opts ImportOptions) (ImportReport, error) {
	if err := requireStaff(actor); err != nil {
		return ImportReport{}, err
	}
	if opts.Mode == "" {
		opts.Mode = ImportStrict
	}
	if opts.Mode != ImportStrict && opts.Mode != ImportSkip {
		return ImportReport{}, nomination.Invalid(nomination.Problem("mode", "StrictOrSkip", "strict or skip"))
	}
	if opts.Body != "" {
		if _, err := s.body(opts.Body); err != nil {
			return ImportReport{}, nomination.Invalid(nomination.Problem("body", "BodyOneOf", "no body \"{{.Body}}\": one of {{.Bodies}}", "Body", opts.Body, "Bodies", strings.Join(s.bodyIDs(), ", ")))
		}
	}
	rep := ImportReport{DryRun: opts.DryRun, Mode: opts.Mode, Errors: []RowError{}}
	rows, bad, err := s.parseImport(r, opts.Body)
	if err != nil {
		return ImportReport{}, err
	}
	rep.Rows = len(rows) + len(bad)
	rows, more, err := s.checkOverlaps(ctx, rows)
	if err != nil {
		return ImportReport{}, err
	}
	bad = append(bad, more...)
	slices.SortFunc(bad, func(a, b RowError) int { return a.Line - b.Line })
	rep.Errors = append(rep.Errors, bad...)
	rep.Bad, rep.Good = len(bad), len(rows)
	for _, row := range rows {
		if row.exists {
			rep.Existing++
		}
	}
	if opts.DryRun {
		return rep, nil
	}
	if rep.Bad > 0 && opts.Mode == ImportStrict {
		fe := make([]nomination.FieldError, 0, len(bad))
		for _, b := range bad {
			for _, p := range b.Problems {
				p.Field = fmt.Sprintf("line %d: %s", b.Line, p.Field)
				fe = append(fe, p)
			}
		}
		return rep, nomination.Invalidf("RowsBad", "{{.Bad}} of {{.Rows}} rows are bad; nothing was imported", fe...).WithArgs("Bad", rep.Bad, "Rows", rep.Rows)
	}
	stored, err := s.storeImport(ctx, actor, rows)
	rep.Stored = stored
	return rep, err
}

// parseImport reads the file: the good rows so far (overlaps are checked
// next) and the bad ones with their problems.
func (s *Service) parseImport(r io.Reader, defaultBody string) ([]importRow, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nomination.Invalid(nomination.Problem("file", "ImportEmpty", "empty: send a header line and one row per term"))
		}
		return nil, nil, csvError(err)
	}
	col := map[string]int{}
	var fe []nomination.FieldError
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		switch {
		case h == "":
			// An unnamed column (spreadsheets add trailing commas) is ignored.
		case !slices.Contains(ImportColumns, h):
			fe = append(fe, nomination.Problem("line 1", "UnknownColumn", "unknown column \"{{.Column}}\": the columns are {{.Columns}}", "Column", h, "Columns", strings.Join(ImportColumns, ", ")))
		case col[h] != 0:
			fe = append(fe, nomination.Problem("line 1", "ColumnTwice", "column \"{{.Column}}\" appears twice", "Column", h))
		default:
			col[h] = i + 1 // 0 means absent
		}
	}
	for _, need := range []string{"email", "name", "start"} {
		if col[need] == 0 {
			fe = append(fe, nomination.Problem("line 1", "ColumnMissing", "the header has no \"{{.Column}}\" column", "Column", need))
		}
	}
	if col["body"] == 0 && defaultBody == "" {
		fe = append(fe, nomination.Problem("line 1", "NoBodyColumn", `the header has no "body" column and no body was given`))
	}
	if len(fe) > 0 {
		return nil, nil, nomination.Invalidf("HeaderBad", "the file's header is not acceptable", fe...)
	}
	var good []importRow
	var bad []RowError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(good)+len(bad) >= MaxImportRows {
			return nil, nil, nomination.Invalid(nomination.Problem("file", "TooManyRows", "more than {{.Max}} rows: split the file", "Max", MaxImportRows))
		}
		get := func(name string) string {
			if i := col[name]; i > 0 && i <= len(rec) {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		row, problems := s.readRow(get, defaultBody)
		row.line = line
		if len(rec) != len(header) {
			problems = append(problems, nomination.Problem("row", "RowWidth", "has {{.Fields}} fields, the header {{.Header}}", "Fields", len(rec), "Header", len(header)))
		}
		if len(problems) > 0 {
			bad = append(bad, RowError{Line: line, Email: strings.ToLower(get("email")), Problems: problems})
			continue
		}
		good = append(good, row)
	}
	return good, bad, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nomination.Invalidf("NotCSV", "the file is not valid CSV",
			nomination.ProblemText(fmt.Sprintf("line %d", pe.Line), phrase.Plain(pe.Err.Error())))
	}
	return nomination.Invalid(nomination.Problem("file", "FileUnreadable", "the file could not be read"))
}

// readRow checks one row on its own.
func (s *Service) readRow(get func(string) string, defaultBody string) (importRow, []nomination.FieldError) {
	var fe []nomination.FieldError
	bodyID := get("body")
	if bodyID == "" {
		bodyID = defaultBody
	}
	b, err := s.body(bodyID)
	if err != nil {
		fe = append(fe, nomination.Problem("body", "BodyOneOf", "no body \"{{.Body}}\": one of {{.Bodies}}", "Body", bodyID, "Bodies", strings.Join(s.bodyIDs(), ", ")))
	}
	p := Profile{Email: get("email"), Name: get("name"), SeatKind: get("seat_kind"), StakeholderGroup: get("stakeholder_group"),
		Region: get("region"), Gender: get("gender"), Nationality: get("nationality"), Organization: get("organization")}.normalize()
	fe = append(fe, p.check(b)...)
	row := importRow{body: b, profile: p}
	startText, endText := get("start"), get("end")
	var ok bool
	switch row.start, ok = ParseDate(startText); {
	case startText == "":
		fe = append(fe, nomination.Problem("start", "StartDateRequired", "required: a date such as 2024-01-01"))
	case !ok:
		fe = append(fe, nomination.Problem("start", "StartNotDate", "\"{{.Text}}\" is not a date such as 2024-01-01", "Text", startText))
	}
	switch {
	case endText != "":
		if row.end, ok = ParseDate(endText); !ok {
			fe = append(fe, nomination.Problem("end", "EndNotDate", "\"{{.Text}}\" is not a date such as 2024-12-31", "Text", endText))
		}
	case row.start.IsZero() || b.ID == "":
	case b.Terms.Years > 0:
		row.end = TermEnd(row.start, b.Terms.Years)
	default:
		fe = append(fe, nomination.Problem("end", "EndRequiredNoLength", "required: the body sets no term length"))
	}
	if !row.start.IsZero() && !row.end.IsZero() {
		fe = append(fe, checkPeriod(row.start, row.end, "start", "end")...)
	}
	return row, fe
}

// checkOverlaps splits rows into those that overlap nothing and those that
// overlap a stored term or an earlier row of the same person; a row equal
// to a stored term is kept and marked as existing.
func (s *Service) checkOverlaps(ctx context.Context, rows []importRow) ([]importRow, []RowError, error) {
	stored := map[string][]Term{} // by member id
	accepted := map[string][]importRow{}
	var good []importRow
	var bad []RowError
	overlaps := func(aStart, aEnd, bStart, bEnd time.Time) bool { return !aEnd.Before(bStart) && !aStart.After(bEnd) }
	for _, r := range rows {
		id := MemberID(r.body.ID, r.profile.Email)
		terms, ok := stored[id]
		if !ok {
			m, err := s.load(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			terms = m.Terms
			stored[id] = terms
		}
		var problem *nomination.FieldError
		for _, t := range terms {
			if t.Start.Equal(r.start) && t.End.Equal(r.end) {
				r.exists = true
				break
			}
			if overlaps(t.Start, t.End, r.start, r.end) {
				p := nomination.Problem("start", "OverlapsRecorded", "overlaps the recorded term {{.Start}} to {{.End}}", "Start", t.Start.Format(DateLayout), "End", t.End.Format(DateLayout))
				problem = &p
				break
			}
		}
		if problem == nil {
			for _, o := range accepted[id] {
				if overlaps(o.start, o.end, r.start, r.end) {
					p := nomination.Problem("start", "OverlapsLine", "overlaps the term on line {{.Line}} ({{.Start}} to {{.End}})", "Line", o.line, "Start", o.start.Format(DateLayout), "End", o.end.Format(DateLayout))
					problem = &p
					break
				}
			}
		}
		if problem != nil {
			bad = append(bad, RowError{Line: r.line, Email: r.profile.Email, Problems: []nomination.FieldError{*problem}})
			continue
		}
		accepted[id] = append(accepted[id], r)
		good = append(good, r)
	}
	return good, bad, nil
}

// storeImport stores the good rows that are not recorded yet, each
// person's in date order, so a term following another back to back is
// linked as its renewal and the latest row gives the profile. Each row is
// one commit on its member, decided again on the member as it then stands:
// a term recorded meanwhile that equals or overlaps the row's makes the row
// add nothing. It returns the number of terms created.
func (s *Service) storeImport(ctx context.Context, actor nomination.Actor, rows []importRow) (int, error) {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b importRow) int {
		if c := strings.Compare(MemberID(a.body.ID, a.profile.Email), MemberID(b.body.ID, b.profile.Email)); c != 0 {
			return c
		}
		return a.start.Compare(b.start)
	})
	stored := 0
	for _, r := range rows {
		if r.exists {
			continue
		}
		id := MemberID(r.body.ID, r.profile.Email)
		_, c, err := s.commit(ctx, id, actor.UserID, func(m Member) (*Change, error) {
			t := Term{ID: TermID(id, r.start), MemberID: id, Body: r.body.ID, Email: r.profile.Email, Start: r.start, End: r.end,
				Source: SourceImport, SeatKind: r.profile.SeatKind, StakeholderGroup: r.profile.StakeholderGroup,
				CreatedAt: s.clock(), CreatedBy: actor.UserID}
			for _, o := range m.Terms {
				if !o.End.Before(t.Start) && !o.Start.After(t.End) {
					return nil, nil // recorded meanwhile
				}
			}
			if prev, ok := endingBefore(m.Terms, r.start); ok {
				t.RenewalOf = prev.ID
			}
			return &Change{Type: ChangeImported, Body: r.body.ID, Profile: &ProfileChange{Profile: r.profile, AsOf: r.start}, Term: &t}, nil
		})
		if err != nil {
			return stored, fmt.Errorf("import line %d: %w", r.line, err)
		}
		if c != nil {
			stored++
		}
	}
	return stored, nil
}
