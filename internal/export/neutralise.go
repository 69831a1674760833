package export

import (
	"strings"
	"unicode/utf8"
)

// formulaTrigger reports whether a cell starting with byte b would be read
// by a spreadsheet program as a formula (or, for tab, CR and LF, could be
// shifted into one when the file is pasted or re-imported): '=', '+', '-',
// '@', tab, carriage return and line feed.
func formulaTrigger(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return true
	}
	return false
}

// Neutralise returns s with a leading apostrophe when s starts with '=',
// '+', '-', '@', tab, CR or LF, and s unchanged otherwise. Spreadsheet
// programs treat the apostrophe as "this cell is text", so a nominee named
// "=HYPERLINK(...)" is shown, never evaluated. The apostrophe stays visible
// in the raw file: that is the point, the value cannot be mistaken for a
// formula anywhere it is opened.
func Neutralise(s string) string {
	if s != "" && formulaTrigger(s[0]) {
		return "'" + s
	}
	return s
}

// CellText returns s as it is written into a CSV or XLSX cell: line breaks
// normalised to LF (a lone CR or a CRLF pair becomes LF, which both formats
// carry unchanged), invalid UTF-8 and characters XML 1.0 cannot carry (C0
// controls other than tab and LF, U+FFFE, U+FFFF) replaced by U+FFFD, and
// the result neutralised as Neutralise does. Both spreadsheet writers use
// it, so a value reads back the same from either file.
func CellText(s string) string {
	return Neutralise(cleanText(s))
}

// cleanText does the normalisation part of CellText. Most values are plain
// text and are returned as they are without allocating.
func cleanText(s string) string {
	clean, ascii := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' {
			clean = false
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if clean && !ascii {
		clean = utf8.ValidString(s) && !strings.Contains(s, "\uFFFE") && !strings.Contains(s, "\uFFFF")
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r':
			// CRLF and a lone CR both become one LF.
			if i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
			b.WriteByte('\n')
		case r == utf8.RuneError && size == 1,
			r < 0x20 && r != '\t' && r != '\n',
			r == 0xFFFE, r == 0xFFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
