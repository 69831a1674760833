package export

import (
	"archive/zip"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
)

// XLSXOptions tunes an XLSX export.
type XLSXOptions struct {
	// SheetName names the one worksheet, made a name Excel accepts (see
	// SheetName); "Nominations" when empty.
	SheetName string
	// TmpDir is where the worksheet is spooled once it outgrows the
	// in-memory chunk (16 MiB); the system temporary directory when empty.
	TmpDir string
	// Header is the header row, as in CSVOptions; Layout.Header when nil.
	Header []string
}

// WriteXLSX writes a workbook with one worksheet to w: a bold, frozen header
// row and one row per row of rows. Text cells go through CellText, exactly as
// in WriteCSV, so the sheet read back equals the CSV; counts and mean
// scores are numeric cells. Cell text longer than the 32,767 characters a
// cell can hold is cut there.
//
// Memory stays bounded whatever the row count: rows go through excelize's
// StreamWriter, which spools the worksheet XML to a temporary file past
// 16 MiB, and the zip archive is compressed straight into w instead of
// being assembled in memory first.
//
// It returns the first error of rows (wrapped with the row number), of
// excelize or of writing to w, or ctx.Err() when ctx ends; the output is
// then incomplete.
func WriteXLSX(ctx context.Context, w io.Writer, layout Layout, rows iter.Seq2[Row, error], opts XLSXOptions) error {
	values := func(yield func([]any, error) bool) {
		var cells []cell
		var vals []any
		for row, rerr := range rows {
			if rerr != nil {
				yield(nil, rerr)
				return
			}
			cells = layout.cells(cells, row)
			vals = vals[:0]
			for _, c := range cells {
				vals = append(vals, c.xlsxValue())
			}
			if !yield(vals, nil) {
				return
			}
		}
	}
	header := opts.Header
	if header == nil {
		header = layout.Header()
	}
	return writeSheet(ctx, w, header, values, opts)
}

// writeSheet streams a one-sheet workbook to w: a bold, frozen header row,
// then one row per value slice of rows (each used only until the next).
func writeSheet(ctx context.Context, w io.Writer, header []string, rows iter.Seq2[[]any, error], opts XLSXOptions) (err error) {
	sheet := SheetName(opts.SheetName, "Nominations")
	f := excelize.NewFile(excelize.Options{TmpDir: opts.TmpDir})
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close xlsx: %w", cerr)
		}
	}()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return fmt.Errorf("name xlsx sheet: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return fmt.Errorf("xlsx header style: %w", err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("xlsx stream: %w", err)
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("xlsx freeze header: %w", err)
	}
	if err := sw.SetColWidth(1, len(header), 18); err != nil {
		return fmt.Errorf("xlsx column width: %w", err)
	}
	values := make([]any, len(header))
	for i, h := range header {
		values[i] = excelize.Cell{StyleID: bold, Value: CellText(h)}
	}
	if err := sw.SetRow("A1", values); err != nil {
		return fmt.Errorf("xlsx header: %w", err)
	}

	n := 0
	for row, rerr := range rows {
		if rerr != nil {
			return fmt.Errorf("xlsx row %d: %w", n+1, rerr)
		}
		n++
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ref, err := excelize.CoordinatesToCellName(1, n+1)
		if err != nil {
			return fmt.Errorf("xlsx row %d: %w", n, err)
		}
		if err := sw.SetRow(ref, row); err != nil {
			return fmt.Errorf("write xlsx row %d: %w", n, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("flush xlsx sheet: %w", err)
	}

	// excelize's Write assembles the whole archive in a bytes.Buffer before
	// copying it out. SetZipWriter lets us hand it a zip writer of our own:
	// ours ignores that buffer and compresses each part straight into w, so
	// the finished file never sits in memory. (excelize only post-processes
	// the buffer for password-protected files and parts over 4 GiB, neither
	// of which an export produces.)
	// Deflate at its fastest level: the worksheet XML is repetitive enough
	// to compress well anyway (100,000 rows: 26 MiB against 19 MiB at the
	// default level) in about half the CPU time.
	var zw *zip.Writer
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw = zip.NewWriter(w)
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.BestSpeed)
		})
		return zw
	})
	if err := f.Write(io.Discard); err != nil {
		return fmt.Errorf("write xlsx: %w", err)
	}
	if zw == nil {
		return fmt.Errorf("write xlsx: the workbook was not written")
	}
	return nil
}

// maxSheetName is the longest worksheet name Excel takes, in UTF-16 code
// units.
const maxSheetName = 31

// SheetName returns name as Excel takes a worksheet's name: each of the
// characters it refuses (: \ / ? * [ ]) and any control character
// replaced by a space, spaces run together, no apostrophe or space at
// either end, and cut, at a character, to 31 UTF-16 code units. It
// returns fallback when nothing is left or the name is "History", which
// Excel keeps for itself.
func SheetName(name, fallback string) string {
	var b strings.Builder
	space := false
	for _, r := range name {
		if strings.ContainsRune(":\\/?*[]", r) || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	s, units := b.String(), 0
	for i, r := range s {
		if units += utf16.RuneLen(r); units > maxSheetName {
			s = s[:i]
			break
		}
	}
	s = strings.Trim(s, "' ")
	if s == "" || strings.EqualFold(s, "History") {
		return fallback
	}
	return s
}

// xlsxValue is the excelize value of a cell; nil leaves the cell out.
func (c cell) xlsxValue() any {
	switch c.kind {
	case textCell:
		return c.text
	case intCell:
		return c.num
	case floatCell:
		return c.flt
	}
	return nil
}
