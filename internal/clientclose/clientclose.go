// Package clientclose tells a request its client abandoned from a request
// that failed, for the API and the pages alike.
package clientclose

import (
	"context"
	"errors"
	"io"
)

// Status is what the log and the metrics record for a request its client
// abandoned before the answer (nginx's 499). It is not an HTTP status any
// client reads.
const Status = 499

// Is reports that a request failed because its client went away: the
// server cancelled the request's context ctx (its connection closed) and
// err is that cancellation, met at the store or anywhere else. The store
// driver reports a cancelled read as a network error, which would
// otherwise be answered as the store being unavailable (503). An error
// that is not the cancellation (a store that timed out, refused or
// failed) is a failure even when the client has gone too.
func Is(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.Canceled) && errors.Is(err, context.Canceled)
}

// Download is the body of a file streamed to a client (an export, an
// attachment): it remembers that a write to the client failed, which is
// the connection breaking under the download.
type Download struct {
	w      io.Writer
	broken bool
}

// NewDownload streams a download to w.
func NewDownload(w io.Writer) *Download { return &Download{w: w} }

func (d *Download) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		d.broken = true
	}
	return n, err
}

// Cut reports that err, which ended the download after its headers went
// out, is its client going away: the request's context ctx cancelled,
// and err that cancellation (met at the store or anywhere else) or a
// write to the client failing. Anything else is a failure.
func (d *Download) Cut(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.Canceled) && (d.broken || errors.Is(err, context.Canceled))
}
