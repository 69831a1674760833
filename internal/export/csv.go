package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"strconv"
)

// CSVOptions tunes a CSV export.
type CSVOptions struct {
	// BOM starts the file with a UTF-8 byte order mark, which spreadsheet
	// programs need to read non-ASCII names correctly from a double-clicked
	// CSV file. Programs that read CSV as data usually prefer it off.
	BOM bool
	// Header is the header line (one heading per column of the layout, such
	// as Layout.HeaderSaid or Layout.Keys gives); Layout.Header when nil.
	Header []string
}

// ctxCheckEvery is how many rows the writers write between two looks at
// the context: often enough to stop a cancelled download quickly, rarely
// enough to cost nothing.
const ctxCheckEvery = 256

// WriteCSV writes a header line and one line per row of rows to w as RFC
// 4180 CSV (comma-separated, CRLF line ends, fields quoted when they hold a
// comma, quote or line break). Text cells go through CellText, so no cell
// can start a formula; counts and mean scores are plain numbers. Rows are
// written as they are read: memory stays bounded by one row and the
// buffer whatever the row count.
//
// It returns the first error of rows (unchanged, wrapped with the row
// number), of writing to w, or ctx.Err() when ctx ends; the output is then
// incomplete.
func WriteCSV(ctx context.Context, w io.Writer, layout Layout, rows iter.Seq2[Row, error], opts CSVOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if opts.BOM {
		if _, err := bw.WriteString("\uFEFF"); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true

	record := headerOf(layout, opts.Header)
	if err := cw.Write(record); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	var cells []cell
	n := 0
	for row, err := range rows {
		if err != nil {
			return fmt.Errorf("csv row %d: %w", n+1, err)
		}
		n++
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cells = layout.cells(cells, row)
		record = record[:0]
		for _, c := range cells {
			record = append(record, c.csvText())
		}
		if err := cw.Write(record); err != nil {
			return fmt.Errorf("write csv row %d: %w", n, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// csvText is the CSV field of a cell.
func (c cell) csvText() string {
	switch c.kind {
	case textCell:
		return c.text
	case intCell:
		return strconv.Itoa(c.num)
	case floatCell:
		return formatScore(c.flt)
	}
	return ""
}

// headerOf returns the header row of layout, neutralised: header when it
// is set, else the English headings.
func headerOf(layout Layout, header []string) []string {
	if header == nil {
		header = layout.Header()
	}
	out := make([]string, len(header))
	for i, h := range header {
		out[i] = CellText(h)
	}
	return out
}
