package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
	"github.com/xuri/excelize/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// mustLayout builds a Layout and fails the test on error.
func mustLayout(tb testing.TB, fields, stages []Column) Layout {
	tb.Helper()
	l, err := NewLayout(fields, stages)
	if err != nil {
		tb.Fatalf("NewLayout: %v", err)
	}
	return l
}

// seededLayout is the MAG form of the seeded call, in workflow order. The
// organization field is folded into the fixed Organisation column.
func seededLayout(tb testing.TB) Layout {
	tb.Helper()
	return mustLayout(tb, []Column{
		{Key: "stakeholder_group", Header: "Stakeholder group"},
		{Key: "region", Header: "Region"},
		{Key: "gender", Header: "Gender"},
		{Key: "nationality", Header: "Nationality"},
		{Key: "organization", Header: "Organisation"},
		{Key: "motivation", Header: "Motivation"},
	}, []Column{
		{Key: "panel_review", Header: "Panel review"},
		{Key: "secretariat_review", Header: "Secretariat review"},
	})
}

// seededRows is the seeded call "mag-2026": ordinary nominations next to
// every kind of awkward value an export meets.
func seededRows() []Row {
	at := func(day, hour int) time.Time { return time.Date(2026, 2, day, hour, 30, 0, 0, time.UTC) }
	link := func(id, kind string) Attachment {
		return Attachment{Kind: kind, Filename: kind + ".pdf", URL: "https://nomina.example.org/api/v1/nominations/" + id + "/attachments/" + kind}
	}
	return []Row{
		{
			ID: "n-001", Call: "mag-2026", State: "shortlisted", NomineeName: "Amina Diallo", NomineeEmail: "amina@example.org",
			Fields:      map[string]string{"stakeholder_group": "civil_society", "region": "african", "gender": "female", "nationality": "SN", "organization": "Internet Society Senegal", "motivation": "Ten years of community networks."},
			SubmittedAt: at(3, 9),
			Stages: map[string]Tally{
				"panel_review":       {Approve: 4, Reject: 1, Scored: 5, MeanScore: 8.2},
				"secretariat_review": {Approve: 1, Scored: 1, MeanScore: 9},
			},
			Endorsements: 3,
			Attachments:  []Attachment{link("n-001", "cv"), link("n-001", "motivation")},
		},
		{
			ID: "n-002", Call: "mag-2026", State: "panel_review", NomineeName: "=HYPERLINK(\"https://evil.example\",\"Click\")", NomineeEmail: "+1@example.org",
			Organization: "@Corp, \"Quoted\" Ltd",
			Fields:       map[string]string{"stakeholder_group": "private_sector", "region": "western_european_others", "gender": "male", "nationality": "DE", "motivation": "-2+3+cmd|' /C calc'!A0"},
			SubmittedAt:  at(4, 14),
			Stages:       map[string]Tally{"panel_review": {Approve: 1, RequestChanges: 2, Recuse: 1, Scored: 3, MeanScore: 22.0 / 3}},
			Endorsements: 0,
			Attachments:  []Attachment{link("n-002", "cv")},
		},
		{
			ID: "n-003", Call: "mag-2026", State: "submitted", NomineeName: "José Martínez Pérez", NomineeEmail: "jose@example.org",
			Fields:      map[string]string{"stakeholder_group": "government", "region": "latin_american_caribbean", "gender": "male", "nationality": "MX", "organization": "Secretaría de Comunicaciones", "motivation": "Line one,\r\nline \"two\"\nline three\r"},
			SubmittedAt: at(5, 8),
		},
		{
			ID: "n-004", Call: "mag-2026", State: "draft", NomineeName: "\tTabbed Name", NomineeEmail: "lin@example.org",
			Fields: map[string]string{"stakeholder_group": "technical_community", "region": "asia_pacific", "gender": "undisclosed", "nationality": "CN", "organization": "北京 Internet Institute", "motivation": "\nStarts with a line break"},
		},
		{
			ID: "n-005", Call: "mag-2026", State: "withdrawn", NomineeName: "Olena Kovalenko", NomineeEmail: "olena@example.org",
			Fields:      map[string]string{"stakeholder_group": "civil_society", "region": "eastern_european", "gender": "female", "organization": "", "motivation": "Control \x01 character and _x0041_ escape-like text"},
			SubmittedAt: at(6, 17),
			Stages:      map[string]Tally{"panel_review": {Reject: 2}},
		},
	}
}

func writeCSV(tb testing.TB, l Layout, rows iter.Seq2[Row, error], opts CSVOptions) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteCSV(context.Background(), &buf, l, rows, opts); err != nil {
		tb.Fatalf("WriteCSV: %v", err)
	}
	return buf.Bytes()
}

func writeXLSX(tb testing.TB, l Layout, rows iter.Seq2[Row, error]) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteXLSX(context.Background(), &buf, l, rows, XLSXOptions{TmpDir: tb.TempDir()}); err != nil {
		tb.Fatalf("WriteXLSX: %v", err)
	}
	return buf.Bytes()
}

func writeJSON(tb testing.TB, l Layout, rows iter.Seq2[Row, error]) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(context.Background(), &buf, l, rows); err != nil {
		tb.Fatalf("WriteJSON: %v", err)
	}
	return buf.Bytes()
}

// readCSV parses a CSV export (after its BOM, if any).
func readCSV(tb testing.TB, b []byte) [][]string {
	tb.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF"))))
	recs, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("read csv: %v", err)
	}
	return recs
}

// readXLSX reads the only sheet of an XLSX export back with excelize,
// padding each row to width (excelize drops trailing empty cells).
func readXLSX(tb testing.TB, b []byte, width int) [][]string {
	tb.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("open xlsx: %v", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) != 1 || sheets[0] != "Nominations" {
		tb.Fatalf("sheets = %v, want [Nominations]", sheets)
	}
	rows, err := f.GetRows(sheets[0])
	if err != nil {
		tb.Fatalf("xlsx rows: %v", err)
	}
	for i, r := range rows {
		for len(r) < width {
			r = append(r, "")
		}
		rows[i] = r
	}
	return rows
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking the change)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGoldenExports(t *testing.T) {
	l := seededLayout(t)
	t.Run("csv", func(t *testing.T) {
		golden(t, "mag-2026.csv", writeCSV(t, l, Rows(seededRows()...), CSVOptions{BOM: true}))
	})
	t.Run("json", func(t *testing.T) {
		out := writeJSON(t, l, Rows(seededRows()...))
		if !json.Valid(out) {
			t.Fatalf("not valid JSON:\n%s", out)
		}
		golden(t, "mag-2026.json", out)
	})
}

func TestXLSXReadsBackAsTheCSV(t *testing.T) {
	l := seededLayout(t)
	want := readCSV(t, writeCSV(t, l, Rows(seededRows()...), CSVOptions{}))
	got := readXLSX(t, writeXLSX(t, l, Rows(seededRows()...)), len(want[0]))
	if len(got) != len(want) {
		t.Fatalf("xlsx has %d rows, csv %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("row %d:\nxlsx %q\ncsv  %q", i, got[i], want[i])
		}
	}
	if len(want) != 1+len(seededRows()) || len(want[0]) != len(l.Header()) {
		t.Errorf("csv is %d×%d, want %d×%d", len(want), len(want[0]), 1+len(seededRows()), len(l.Header()))
	}
}

func TestFormulaInjectionIsNeutralised(t *testing.T) {
	l := mustLayout(t, []Column{{Key: "motivation", Header: "Motivation"}}, nil)
	payloads := []string{
		`cmd|' /C calc'!A0`,
		`SUM(1,2)`,
		`HYPERLINK("https://evil.example","a, ""quoted"" link")`,
		"1+1\r\nsecond line, with a comma",
	}
	for _, trigger := range []string{"=", "+", "-", "@", "\t", "\r", "\n"} {
		for _, p := range payloads {
			value := trigger + p
			t.Run(fmt.Sprintf("%q", value), func(t *testing.T) {
				want := "'" + strings.ReplaceAll(strings.ReplaceAll(value, "\r\n", "\n"), "\r", "\n")
				row := Row{ID: "n-1", NomineeName: value, Organization: value, Fields: map[string]string{"motivation": value}}
				cols := []int{3, 5, 7} // nominee, organisation, motivation

				recs := readCSV(t, writeCSV(t, l, Rows(row), CSVOptions{}))
				if len(recs) != 2 {
					t.Fatalf("csv has %d records, want 2 (quoting broke the row)", len(recs))
				}
				xb := writeXLSX(t, l, Rows(row))
				xrows := readXLSX(t, xb, len(recs[0]))
				for _, c := range cols {
					if recs[1][c] != want {
						t.Errorf("csv column %d = %q, want %q", c, recs[1][c], want)
					}
					if xrows[1][c] != want {
						t.Errorf("xlsx column %d = %q, want %q", c, xrows[1][c], want)
					}
				}
				// The cells must be stored as text, never as formulas.
				f, err := excelize.OpenReader(bytes.NewReader(xb))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				for _, c := range cols {
					ref, _ := excelize.CoordinatesToCellName(c+1, 2)
					if formula, _ := f.GetCellFormula("Nominations", ref); formula != "" {
						t.Errorf("xlsx %s holds the formula %q", ref, formula)
					}
					if typ, _ := f.GetCellType("Nominations", ref); typ != excelize.CellTypeInlineString {
						t.Errorf("xlsx %s has type %v, want an inline string", ref, typ)
					}
				}
			})
		}
	}
}

func TestNeutralise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Amina", "Amina"},
		{"=1+1", "'=1+1"},
		{"+41 22 917 12 34", "'+41 22 917 12 34"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"\nx", "'\nx"},
		{"a=b", "a=b"},
		{" =1", " =1"},
		{"'=1", "'=1"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			if got := Neutralise(tt.in); got != tt.want {
				t.Errorf("Neutralise(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCellText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"José 北京", "José 北京"},
		{"a\r\nb\rc\nd", "a\nb\nc\nd"},
		{"\r\nlead", "'\nlead"},
		{"nul\x00bell\x07", "nul\uFFFDbell\uFFFD"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"non\uFFFEchar", "non\uFFFDchar"},
		{"tab\tinside", "tab\tinside"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			if got := CellText(tt.in); got != tt.want {
				t.Errorf("CellText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzNeutralise checks, for any value, that Neutralise only ever adds the
// apostrophe in front of a trigger, and that a value written through
// WriteCSV reads back as exactly CellText of it, in its own cell, with no
// cell starting a formula.
func FuzzNeutralise(f *testing.F) {
	for _, s := range []string{"", "x", "=1+1", "+1", "-1", "@a", "\tx", "\rx", "\nx", `"a,b"`, "a\r\nb", "\xff", "\x00", "José", "'=x"} {
		f.Add(s)
	}
	l := mustLayout(f, []Column{{Key: "v", Header: "V"}}, nil)
	f.Fuzz(func(t *testing.T, s string) {
		n := Neutralise(s)
		if s != "" && formulaTrigger(s[0]) {
			if n != "'"+s {
				t.Fatalf("Neutralise(%q) = %q", s, n)
			}
		} else if n != s {
			t.Fatalf("Neutralise(%q) = %q, changed a safe value", s, n)
		}
		want := CellText(s)
		if want != "" && formulaTrigger(want[0]) {
			t.Fatalf("CellText(%q) = %q starts a formula", s, want)
		}
		if strings.ContainsRune(want, '\r') {
			t.Fatalf("CellText(%q) = %q keeps a CR", s, want)
		}
		row := Row{ID: "id", NomineeName: s, Fields: map[string]string{"v": s}}
		var buf bytes.Buffer
		if err := WriteCSV(context.Background(), &buf, l, Rows(row), CSVOptions{}); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if len(recs) != 2 || recs[1][0] != "id" || recs[1][3] != want || recs[1][7] != want {
			t.Fatalf("value %q read back as %q, want %q in columns 3 and 7", s, recs, want)
		}
	})
}

// FuzzJSONString checks the JSON string writer against encoding/json: its
// output is valid JSON and decodes to what json.Marshal's output decodes to.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uo\te`, "\x00\x1f\n\r\t", "\xff\xfe", "José 北京", "\u2028\u2029", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, out, err)
		}
		ref, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json to %q", s, got, want)
		}
	})
}

func TestJSONShape(t *testing.T) {
	l := seededLayout(t)
	var got []struct {
		ID      string `json:"id"`
		Nominee struct {
			Name string `json:"name"`
		} `json:"nominee"`
		Organization string             `json:"organization"`
		SubmittedAt  *time.Time         `json:"submitted_at"`
		Fields       map[string]*string `json:"fields"`
		Stages       map[string]struct {
			Approve   int      `json:"approve"`
			Scored    int      `json:"scored"`
			MeanScore *float64 `json:"mean_score"`
		} `json:"stages"`
		Endorsements int `json:"endorsements"`
		Attachments  []struct {
			URL string `json:"url"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(writeJSON(t, l, Rows(seededRows()...)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d objects, want 5", len(got))
	}
	first, second, fifth := got[0], got[1], got[4]
	if first.Organization != "Internet Society Senegal" || first.Stages["panel_review"].MeanScore == nil || *first.Stages["panel_review"].MeanScore != 8.2 || len(first.Attachments) != 2 {
		t.Errorf("first nomination = %+v", first)
	}
	// JSON is data: values are not neutralised.
	if second.Nominee.Name != `=HYPERLINK("https://evil.example","Click")` {
		t.Errorf("name = %q, want it unchanged", second.Nominee.Name)
	}
	if fifth.Fields["nationality"] != nil || fifth.Fields["motivation"] == nil {
		t.Errorf("fields = %v: a missing field must be null, a present one a string", fifth.Fields)
	}
	if fifth.Stages["panel_review"].MeanScore != nil || got[3].SubmittedAt != nil {
		t.Errorf("unscored mean and unsubmitted time must be null")
	}
}

func TestEmptyExports(t *testing.T) {
	l := seededLayout(t)
	if got := string(writeJSON(t, l, Rows())); got != "[\n]\n" {
		t.Errorf("empty json = %q", got)
	}
	recs := readCSV(t, writeCSV(t, l, Rows(), CSVOptions{BOM: true}))
	if len(recs) != 1 || !slices.Equal(recs[0], l.Header()) {
		t.Errorf("empty csv = %q, want the header only", recs)
	}
	if rows := readXLSX(t, writeXLSX(t, l, Rows()), len(l.Header())); len(rows) != 1 {
		t.Errorf("empty xlsx has %d rows, want the header only", len(rows))
	}
}

// TestWritersStream checks that rows reach the writer while the source is
// still producing, which an export buffered in memory would not do.
func TestWritersStream(t *testing.T) {
	l := seededLayout(t)
	for _, w := range []struct {
		name  string
		write func(io.Writer, iter.Seq2[Row, error]) error
	}{
		{"csv", func(w io.Writer, rows iter.Seq2[Row, error]) error {
			return WriteCSV(context.Background(), w, l, rows, CSVOptions{})
		}},
		{"json", func(w io.Writer, rows iter.Seq2[Row, error]) error {
			return WriteJSON(context.Background(), w, l, rows)
		}},
	} {
		t.Run(w.name, func(t *testing.T) {
			var out countingWriter
			seen := int64(-1)
			rows := func(yield func(Row, error) bool) {
				base := seededRows()[0]
				for i := range 5000 {
					if i == 4000 {
						seen = out.n
					}
					if !yield(base, nil) {
						return
					}
				}
			}
			if err := w.write(&out, rows); err != nil {
				t.Fatal(err)
			}
			if seen <= 0 || seen >= out.n {
				t.Errorf("%d of %d bytes written after 4000 of 5000 rows; the export is not streamed", seen, out.n)
			}
		})
	}
}

func TestWritersStopOnErrors(t *testing.T) {
	l := seededLayout(t)
	broken := errors.New("cursor broke")
	failing := func(yield func(Row, error) bool) {
		if yield(seededRows()[0], nil) {
			yield(Row{}, broken)
		}
	}
	writers := map[string]func(context.Context, iter.Seq2[Row, error]) error{
		"csv": func(ctx context.Context, rows iter.Seq2[Row, error]) error {
			return WriteCSV(ctx, io.Discard, l, rows, CSVOptions{})
		},
		"xlsx": func(ctx context.Context, rows iter.Seq2[Row, error]) error {
			return WriteXLSX(ctx, io.Discard, l, rows, XLSXOptions{TmpDir: t.TempDir()})
		},
		"json": func(ctx context.Context, rows iter.Seq2[Row, error]) error {
			return WriteJSON(ctx, io.Discard, l, rows)
		},
	}
	for _, name := range []string{"csv", "xlsx", "json"} {
		write := writers[name]
		t.Run(name+"/source error", func(t *testing.T) {
			err := write(context.Background(), failing)
			if !errors.Is(err, broken) || !strings.Contains(err.Error(), "row 2") {
				t.Errorf("err = %v, want the source's error at row 2", err)
			}
		})
		t.Run(name+"/cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			endless := func(yield func(Row, error) bool) {
				for yield(seededRows()[0], nil) {
				}
			}
			if err := write(ctx, endless); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestNewLayout(t *testing.T) {
	tests := []struct {
		name      string
		fields    []Column
		stages    []Column
		wantField string // "" for no error
		wantKeys  []string
	}{
		{name: "form order kept, organization folded", fields: []Column{{Key: "region", Header: "Region"}, {Key: "organization", Header: "Org"}, {Key: "gender", Header: "Gender"}}, wantKeys: []string{"region", "gender"}},
		{name: "repeated field", fields: []Column{{Key: "region", Header: "Region"}, {Key: "region", Header: "Again"}}, wantField: "fields[1].key"},
		{name: "fixed column", fields: []Column{{Key: "state", Header: "State"}}, wantField: "fields[0].key"},
		{name: "bad key", fields: []Column{{Key: "Region!", Header: "Region"}}, wantField: "fields[0].key"},
		{name: "empty header", fields: []Column{{Key: "region", Header: " "}}, wantField: "fields[0].header"},
		{name: "stage named organization", stages: []Column{{Key: "organization", Header: "Org"}}, wantField: "stages[0].key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayout(tt.fields, tt.stages)
			if tt.wantField != "" {
				assertInvalid(t, err, tt.wantField)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, c := range l.Fields() {
				keys = append(keys, c.Key)
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("keys = %v, want %v", keys, tt.wantKeys)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	day := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	tests := []struct{ slug, format, want string }{
		{"mag-2026", "csv", "mag-2026-nominations-2026-03-01.csv"},
		{"LP Call 2026", "XLSX", "lp-call-2026-nominations-2026-03-01.xlsx"},
		{"../../etc/passwd\r\n", "json", "etc-passwd-nominations-2026-03-01.json"},
		{"", "csv", "call-nominations-2026-03-01.csv"},
		{"mag", "c\"sv", "mag-nominations-2026-03-01.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FileName(tt.slug, tt.format, day); got != tt.want {
				t.Errorf("FileName(%q, %q) = %q, want %q", tt.slug, tt.format, got, tt.want)
			}
		})
	}
	t.Run("date in the caller's zone", func(t *testing.T) {
		geneva := time.FixedZone("CET", 3600)
		if got := FileName("mag", "csv", day.In(geneva)); got != "mag-nominations-2026-03-02.csv" {
			t.Errorf("got %q", got)
		}
	})
}

func TestParseFormat(t *testing.T) {
	for _, in := range []string{"csv", "XLSX", " json "} {
		if _, err := ParseFormat(in); err != nil {
			t.Errorf("ParseFormat(%q): %v", in, err)
		}
	}
	_, err := ParseFormat("pdf")
	assertInvalid(t, err, "format")
	if nomination.ErrorCode(err) != nomination.EINVALID {
		t.Errorf("code = %q", nomination.ErrorCode(err))
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"x", "x"},
		{true, "true"},
		{int64(3), "3"},
		{7.5, "7.5"},
		{[]any{"en", "fr"}, "en; fr"},
		{[]string{"a"}, "a"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), "2026-01-02T02:04:05Z"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.in), func(t *testing.T) {
			if got := FormatValue(tt.in); got != tt.want {
				t.Errorf("FormatValue(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The header row is said by the caller's say, or given as machine keys:
// the fixed headings from the catalogs, a form field's and a stage's from
// the translations their columns carry, English where they carry none;
// the cells under it do not change, and a heading that looks like a
// formula is neutralised like any cell.
func TestHeaderSaidAndKeys(t *testing.T) {
	l, err := NewLayout([]Column{{Key: "bio", Header: "=Bio", Texts: map[string]string{"en": "=Bio", "fr": "=Biographie"}}, {Key: "motto", Header: "Motto"}},
		[]Column{{Key: "review", Header: "Review", Texts: map[string]string{"en": "Review", "fr": "Examen"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A French reader's say, as a localizer's: the text's own French, else
	// its catalog id (and stage), else its English.
	say := func(tx phrase.Text) string {
		if s, ok := tx.Texts["fr"]; ok {
			return s
		}
		if tx.ID != "" {
			return fmt.Sprintf("[%s%v]", tx.ID, tx.Args["Stage"])
		}
		return tx.English
	}
	said := l.HeaderSaid(say)
	keys := l.Keys()
	if len(said) != l.width() || len(keys) != l.width() || len(l.Header()) != l.width() {
		t.Fatalf("widths: said %d, keys %d, header %d, want %d", len(said), len(keys), len(l.Header()), l.width())
	}
	if said[0] != "[ExportColID<nil>]" || said[7] != "=Biographie" || said[8] != "Motto" || said[9] != "[ExportStageApproveExamen]" ||
		said[13] != "[ExportStageMeanScoreExamen]" || said[14] != "[ExportColEndorsements<nil>]" {
		t.Fatalf("said %q", said)
	}
	wantKeys := "id,call,state,nominee_name,nominee_email,organization,submitted_at,bio,motto," +
		"review_approve,review_reject,review_request_changes,review_recuse,review_mean_score,endorsements,attachments"
	if got := strings.Join(keys, ","); got != wantKeys {
		t.Fatalf("keys %s, want %s", got, wantKeys)
	}
	if h := l.Header(); h[0] != "ID" || h[7] != "=Bio" || h[13] != "Review: mean score" {
		t.Fatalf("English header %q", h)
	}

	rows := func(yield func(Row, error) bool) {
		yield(Row{ID: "n1", Fields: map[string]string{"bio": "+x"}}, nil)
	}
	var buf bytes.Buffer
	if err := WriteCSV(context.Background(), &buf, l, rows, CSVOptions{Header: keys}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 || strings.Join(recs[0], ",") != wantKeys || recs[1][7] != "'+x" {
		t.Fatalf("csv with keys %q (%v)", recs, err)
	}
	buf.Reset()
	if err := WriteCSV(context.Background(), &buf, l, rows, CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	if recs, err = csv.NewReader(&buf).ReadAll(); err != nil || recs[0][7] != "'=Bio" {
		t.Fatalf("English header not neutralised: %q (%v)", recs, err)
	}
}

// A worksheet's name is one Excel takes: at most 31 UTF-16 code units,
// none of : \ / ? * [ ], no apostrophe at either end, not History.
func TestSheetName(t *testing.T) {
	long := strings.Repeat("ب", 40)
	for _, tt := range []struct{ in, want string }{
		{"Nominations", "Nominations"},
		{"الترشيحات", "الترشيحات"},
		{"الترشيحات: [مسودة]", "الترشيحات مسودة"},
		{`a/b\c?d*e`, "a b c d e"},
		{long, long[:31*len("ب")]},
		{strings.Repeat("提名", 20), strings.Repeat("提名", 15) + "提"},
		{strings.Repeat("𠀀", 20), strings.Repeat("𠀀", 15)}, // two code units each
		{"'Liste des membres'", "Liste des membres"},
		{"History", "Fallback"},
		{" [] ", "Fallback"},
		{"", "Fallback"},
	} {
		if got := SheetName(tt.in, "Fallback"); got != tt.want {
			t.Errorf("SheetName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	// Written and read back: an Arabic name Excel would refuse as it is.
	l, err := NewLayout(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := func(yield func(Row, error) bool) { yield(Row{ID: "n1"}, nil) }
	for _, tt := range []struct{ in, want string }{
		{"الترشيحات: [مسودة]", "الترشيحات مسودة"},
		{"", "Nominations"},
		{strings.Repeat("Кандидатуры ", 4), "Кандидатуры Кандидатуры Кандида"},
	} {
		var buf bytes.Buffer
		if err := WriteXLSX(context.Background(), &buf, l, rows, XLSXOptions{SheetName: tt.in}); err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		book, err := excelize.OpenReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := book.GetSheetName(0); got != tt.want || book.SheetCount != 1 {
			t.Errorf("sheet %q (of %d), want %q", got, book.SheetCount, tt.want)
		}
		if got, err := book.GetCellValue(tt.want, "A2"); err != nil || got != "n1" {
			t.Errorf("cell A2 of %q: %q (%v)", tt.want, got, err)
		}
	}
}

// Said by the service's own localizer: a workflow heading in the reader's
// language where the workflow translates it, in English where it does
// not; the fixed headings and the worksheet from the catalogs.
func TestHeaderSaidByTheCatalog(t *testing.T) {
	sub, err := fs.Sub(phrase.Catalogs, "locales")
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := locale.New(nil, sub)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout([]Column{{Key: "bio", Header: "Biography", Texts: map[string]string{"en": "Biography", "fr": "Biographie"}}},
		[]Column{{Key: "review", Header: "Review", Texts: map[string]string{"en": "Review", "ar": "الاستعراض"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ lang, want string }{
		{"en", "ID|Biography|Review: approve"},
		{"fr", "Identifiant|Biographie|Review : approbations"},
		{"ar", "المعرّف|Biography|الاستعراض: الموافقات"},
	} {
		h := l.HeaderSaid(catalog.In(tt.lang).Say)
		if got := h[0] + "|" + h[7] + "|" + h[8]; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.lang, got, tt.want)
		}
	}
	if got := catalog.In("ar").Say(sheetNominations); got != "الترشيحات" {
		t.Errorf("Arabic sheet name %q", got)
	}
}
