package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"
	"unicode/utf8"
)

// WriteJSON writes rows to w as one JSON array, one object per row, each
// on its own line, as the rows are read: nothing is buffered beyond one row
// and the output buffer. Values are written as they are (JSON is data, not a
// spreadsheet, so nothing is neutralised). Each object is
//
//	{"id", "call", "state", "nominee": {"name", "email"}, "organization",
//	 "submitted_at" (RFC 3339 or null),
//	 "fields": {key: value or null, ... in the layout's order},
//	 "stages": {stage: {"approve", "reject", "request_changes", "recuse",
//	            "scored", "mean_score" (null without scores)}, ...},
//	 "endorsements", "attachments": [{"kind", "filename", "url"}, ...]}
//
// It returns the first error of rows (wrapped with the row number), of
// writing to w, or ctx.Err() when ctx ends; the output is then incomplete
// (and not valid JSON).
func WriteJSON(ctx context.Context, w io.Writer, layout Layout, rows iter.Seq2[Row, error]) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	n := 0
	if _, err := bw.WriteString("["); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	for row, err := range rows {
		if err != nil {
			return fmt.Errorf("json row %d: %w", n+1, err)
		}
		n++
		if n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		buf = buf[:0]
		if n > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		buf = layout.appendJSON(buf, row)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write json row %d: %w", n, err)
		}
	}
	if _, err := bw.WriteString("\n]\n"); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// appendJSON appends the JSON object of r to b. It is written by hand so
// that fields and stages keep the layout's order (a Go map would be
// sorted by key) and no intermediate value is built per row.
func (l Layout) appendJSON(b []byte, r Row) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"call":`...)
	b = appendString(b, r.Call)
	b = append(b, `,"state":`...)
	b = appendString(b, r.State)
	b = append(b, `,"nominee":{"name":`...)
	b = appendString(b, r.NomineeName)
	b = append(b, `,"email":`...)
	b = appendString(b, r.NomineeEmail)
	b = append(b, `},"organization":`...)
	org := r.Organization
	if org == "" {
		org = r.Fields["organization"]
	}
	b = appendString(b, org)
	b = append(b, `,"submitted_at":`...)
	if r.SubmittedAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendString(b, r.SubmittedAt.UTC().Format(time.RFC3339))
	}
	b = append(b, `,"fields":{`...)
	for i, f := range l.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Key)
		b = append(b, ':')
		if v, ok := r.Fields[f.Key]; ok {
			b = appendString(b, v)
		} else {
			b = append(b, "null"...)
		}
	}
	b = append(b, `},"stages":{`...)
	for i, s := range l.stages {
		if i > 0 {
			b = append(b, ',')
		}
		t := r.Stages[s.Key]
		b = appendString(b, s.Key)
		b = append(b, `:{"approve":`...)
		b = strconv.AppendInt(b, int64(t.Approve), 10)
		b = append(b, `,"reject":`...)
		b = strconv.AppendInt(b, int64(t.Reject), 10)
		b = append(b, `,"request_changes":`...)
		b = strconv.AppendInt(b, int64(t.RequestChanges), 10)
		b = append(b, `,"recuse":`...)
		b = strconv.AppendInt(b, int64(t.Recuse), 10)
		b = append(b, `,"scored":`...)
		b = strconv.AppendInt(b, int64(t.Scored), 10)
		b = append(b, `,"mean_score":`...)
		if t.Scored > 0 && finite(t.MeanScore) {
			b = strconv.AppendFloat(b, t.MeanScore, 'g', -1, 64)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, '}')
	}
	b = append(b, `},"endorsements":`...)
	b = strconv.AppendInt(b, int64(r.Endorsements), 10)
	b = append(b, `,"attachments":[`...)
	for i, a := range r.Attachments {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kind":`...)
		b = appendString(b, a.Kind)
		b = append(b, `,"filename":`...)
		b = appendString(b, a.Filename)
		b = append(b, `,"url":`...)
		b = appendString(b, a.URL)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped (as encoding/json does, so the output is also valid
// JavaScript). Unlike json.Marshal it leaves <, > and & alone (the file is
// a download, never inlined into HTML) and allocates nothing.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
