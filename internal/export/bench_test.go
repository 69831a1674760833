package export

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/phrase"
	"github.com/igf/nomina/internal/workflow"
)

// benchLayout is a MAG-like form: eleven fields and two review stages.
func benchLayout(tb testing.TB) Layout {
	tb.Helper()
	return mustLayout(tb, []Column{
		{Key: "stakeholder_group", Header: "Stakeholder group"},
		{Key: "region", Header: "Region"},
		{Key: "gender", Header: "Gender"},
		{Key: "nationality", Header: "Nationality"},
		{Key: "organization", Header: "Organisation"},
		{Key: "position", Header: "Position"},
		{Key: "phone", Header: "Phone"},
		{Key: "languages", Header: "Languages"},
		{Key: "expertise", Header: "Expertise"},
		{Key: "previous_terms", Header: "Previous MAG terms"},
		{Key: "motivation", Header: "Motivation"},
		{Key: "cv", Header: "CV"},
	}, []Column{{Key: "panel_review", Header: "Panel review"}, {Key: "secretariat_review", Header: "Secretariat review"}})
}

// syntheticRows yields n nominations one at a time. It draws a pool of
// 1,000 distinct nominations once and cycles through it with fresh IDs, so
// the benchmarks measure the writers rather than the generator, and the
// input takes no memory that grows with n.
func syntheticRows(n int) iter.Seq2[Row, error] {
	groups := igfChoices["stakeholder_group"]
	regions := igfChoices["region"]
	genders := igfChoices["gender"]
	words := strings.Fields("internet governance multistakeholder policy access rights security capacity development youth digital inclusion open standards infrastructure")
	submitted := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(2026, 3))
	pool := make([]Row, min(n, 1000))
	for i := range pool {
		var motivation strings.Builder
		for range 30 + rng.IntN(40) {
			motivation.WriteString(words[rng.IntN(len(words))])
			motivation.WriteByte(' ')
		}
		id := fmt.Sprintf("nom-%06d", i)
		pool[i] = Row{
			ID: id, Call: "mag-2026", State: "panel_review",
			NomineeName:  fmt.Sprintf("Nominee %d", i),
			NomineeEmail: fmt.Sprintf("nominee%d@example.org", i),
			Fields: map[string]string{
				"stakeholder_group": groups[rng.IntN(len(groups))],
				"region":            regions[rng.IntN(len(regions))],
				"gender":            genders[rng.IntN(len(genders))],
				"nationality":       "KE",
				"organization":      fmt.Sprintf("Organisation %d", rng.IntN(5000)),
				"position":          "Director",
				"phone":             fmt.Sprintf("+254 20 %07d", rng.IntN(10_000_000)),
				"languages":         "English; French",
				"expertise":         words[rng.IntN(len(words))],
				"previous_terms":    fmt.Sprint(rng.IntN(3)),
				"motivation":        motivation.String(),
				"cv":                "cv.pdf",
			},
			SubmittedAt: submitted.Add(time.Duration(i) * time.Minute),
			Stages: map[string]Tally{
				"panel_review":       {Approve: rng.IntN(5), Reject: rng.IntN(3), Scored: 5, MeanScore: 1 + 9*rng.Float64()},
				"secretariat_review": {Approve: rng.IntN(2)},
			},
			Endorsements: rng.IntN(6),
			Attachments:  []Attachment{{Kind: "cv", Filename: "cv.pdf", URL: "https://nomina.example.org/api/v1/nominations/" + id + "/attachments/cv"}},
		}
	}
	return func(yield func(Row, error) bool) {
		for i := range n {
			row := pool[i%len(pool)]
			row.ID = "nom-" + strconv.Itoa(i)
			if !yield(row, nil) {
				return
			}
		}
	}
}

// heapPeak samples the live heap while a benchmark runs and reports the
// highest value seen above the level at the start. runtime/metrics reads
// the figure without stopping the world, so sampling often costs little.
type heapPeak struct {
	stop chan struct{}
	wg   sync.WaitGroup
	base uint64
	peak uint64
}

func heapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), base: heapNow()}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.peak = max(h.peak, heapNow())
			}
		}
	}()
	return h
}

// done stops sampling and returns the peak heap growth in MiB.
func (h *heapPeak) done() float64 {
	close(h.stop)
	h.wg.Wait()
	h.peak = max(h.peak, heapNow())
	if h.peak < h.base {
		return 0
	}
	return float64(h.peak-h.base) / (1 << 20)
}

// countingWriter counts the bytes of the export.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

const benchRows = 100_000

func benchmarkExport(b *testing.B, write func(io.Writer, Layout, iter.Seq2[Row, error]) error) {
	layout := benchLayout(b)
	b.ReportAllocs()
	peak := startHeapPeak()
	var out countingWriter
	for b.Loop() {
		out.n = 0
		if err := write(&out, layout, syntheticRows(benchRows)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(peak.done(), "peak-heap-MiB")
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out.n)/(1<<20), "file-MiB")
}

// BenchmarkExportScan is the baseline: reading the 100,000 rows without
// writing them, the part of the cost that is the row source's.
func BenchmarkExportScan(b *testing.B) {
	benchmarkExport(b, func(_ io.Writer, _ Layout, rows iter.Seq2[Row, error]) error {
		n := 0
		for range rows {
			n++
		}
		if n != benchRows {
			return fmt.Errorf("scanned %d rows", n)
		}
		return nil
	})
}

func BenchmarkExportCSV(b *testing.B) {
	benchmarkExport(b, func(w io.Writer, l Layout, rows iter.Seq2[Row, error]) error {
		return WriteCSV(context.Background(), w, l, rows, CSVOptions{BOM: true})
	})
}

func BenchmarkExportXLSX(b *testing.B) {
	benchmarkExport(b, func(w io.Writer, l Layout, rows iter.Seq2[Row, error]) error {
		return WriteXLSX(context.Background(), w, l, rows, XLSXOptions{TmpDir: b.TempDir()})
	})
}

func BenchmarkExportJSON(b *testing.B) {
	benchmarkExport(b, func(w io.Writer, l Layout, rows iter.Seq2[Row, error]) error {
		return WriteJSON(context.Background(), w, l, rows)
	})
}

// skewedCandidates draws a pool where the targets bind: government and
// men are over-represented and score higher, the African and GRULAC groups
// are small.
func skewedCandidates(rng *rand.Rand, n int) []Candidate {
	regions := []string{"african", "asia_pacific", "eastern_european", "latin_american_caribbean",
		"western_european_others", "western_european_others", "western_european_others", "asia_pacific", "eastern_european"}
	groups := []string{"government", "government", "government", "private_sector", "civil_society", "technical_community", "civil_society"}
	genders := []string{"male", "male", "male", "female", "female", "other"}
	cands := make([]Candidate, n)
	for i := range cands {
		g, gen := groups[rng.IntN(len(groups))], genders[rng.IntN(len(genders))]
		score := 1 + 7*rng.Float64()
		if g == "government" {
			score += 1.5
		}
		if gen == "male" {
			score += 1
		}
		cands[i] = Candidate{ID: fmt.Sprintf("nom-%04d", i), Score: float64(int(score*100)) / 100, Fields: map[string]string{
			"stakeholder_group": g, "region": regions[rng.IntN(len(regions))], "gender": gen,
		}}
	}
	return cands
}

func BenchmarkSuggest(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cands []Candidate
	}{
		{"uniform/500x40", syntheticCandidates(rand.New(rand.NewPCG(3, 1)), 500)},
		{"skewed/500x40", skewedCandidates(rand.New(rand.NewPCG(5, 1)), 500)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			targets := MAGTargets(10)
			b.ReportAllocs()
			for b.Loop() {
				s, err := Suggest(context.Background(), bc.cands, 40, targets)
				if err != nil {
					b.Fatal(err)
				}
				if !s.Optimal {
					b.Fatal("not proven optimal")
				}
			}
		})
	}
}

// BenchmarkExportLanguages writes the same 2,000-nomination export of a
// MAG call (the shipped workflow's form and review stage) in English and
// in French, as the secretariat downloads it: through WriteExportSaid
// with the API's localizer, the header row and worksheet name said in the
// language, the workflow's headings in its own translations.
func BenchmarkExportLanguages(b *testing.B) {
	const rows = 2000
	reg, diags, err := workflow.LoadDir("../../workflows")
	if err != nil || workflow.HasErrors(diags) {
		b.Fatalf("workflows: %v %v", err, diags)
	}
	def, ok := reg.Latest("mag")
	if !ok {
		b.Fatal("no mag workflow")
	}
	sub, err := fs.Sub(phrase.Catalogs, "locales")
	if err != nil {
		b.Fatal(err)
	}
	catalog, err := locale.New(nil, sub)
	if err != nil {
		b.Fatal(err)
	}
	// The columns as nomination.Service.Export makes them.
	table := nomination.ExportTable{Call: nomination.Call{Slug: "mag-2026"}}
	for _, f := range def.Fields {
		if f.Type != workflow.TypeFile {
			table.Fields = append(table.Fields, nomination.ExportColumn{Key: f.Name, Header: f.Label, Texts: def.Texts("fields." + f.Name + ".label")})
		}
	}
	for _, name := range def.StateOrder {
		if st := def.States[name]; st.Review != nil {
			table.Stages = append(table.Stages, nomination.ExportColumn{Key: name, Header: st.Label, Texts: def.Texts("states." + name + ".label")})
		}
	}
	var pool []nomination.ExportRow
	for r := range syntheticRows(rows) {
		n := nomination.ExportRow{ID: r.ID, Call: r.Call, State: r.State, NomineeName: r.NomineeName, NomineeEmail: r.NomineeEmail,
			Organization: r.Organization, Fields: r.Fields, SubmittedAt: r.SubmittedAt, Endorsements: r.Endorsements,
			Stages: map[string]nomination.StageTally{}}
		for k, t := range r.Stages {
			n.Stages[k] = nomination.StageTally{Approve: t.Approve, Reject: t.Reject, Scored: t.Scored, MeanScore: t.MeanScore}
		}
		for _, a := range r.Attachments {
			n.Attachments = append(n.Attachments, nomination.ExportAttachment{Kind: a.Kind, Filename: a.Filename, URL: a.URL})
		}
		pool = append(pool, n)
	}
	table.Rows = func(yield func(nomination.ExportRow, error) bool) {
		for _, r := range pool {
			if !yield(r, nil) {
				return
			}
		}
	}
	for _, format := range []string{"csv", "xlsx"} {
		for _, lang := range []string{"en", "fr"} {
			b.Run(format+"/"+lang, func(b *testing.B) {
				say := catalog.In(lang).Say
				var out countingWriter
				b.ReportAllocs()
				for b.Loop() {
					out.n = 0
					if err := (Shortlists{}).WriteExportSaid(context.Background(), &out, format, table, false, say); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(out.n)/1024, "file-KiB")
			})
		}
	}
}
