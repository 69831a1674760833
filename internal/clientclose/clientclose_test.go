package clientclose_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/igf/nomina/internal/clientclose"
)

func TestIs(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	timedOut, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	<-timedOut.Done()
	wrapped := fmt.Errorf("read nominations: %w", context.Canceled)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"client gone, the cancellation met", gone, wrapped, true},
		{"client gone, another failure", gone, errors.New("store refused"), false},
		{"client there, a cancellation from elsewhere", live, wrapped, false},
		{"request timed out", timedOut, context.DeadlineExceeded, false},
		{"client gone, store timed out", gone, context.DeadlineExceeded, false},
	} {
		if got := clientclose.Is(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestDownloadCut(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	storeFailed := errors.New("the store failed")

	var ok bytes.Buffer
	whole := clientclose.NewDownload(&ok)
	if _, err := whole.Write([]byte("id\n")); err != nil || ok.String() != "id\n" {
		t.Fatalf("a download to a reader still there: %v, wrote %q", err, ok.String())
	}
	broken := clientclose.NewDownload(failingWriter{})
	if _, err := broken.Write([]byte("id\n")); err == nil {
		t.Fatal("a write to a broken connection did not fail")
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		d    *clientclose.Download
		err  error
		want bool
	}{
		{"reader left, write failed", gone, broken, storeFailed, true},
		{"reader left, store saw the cancellation", gone, whole, fmt.Errorf("read: %w", context.Canceled), true},
		{"reader left, but the store failed on its own", gone, whole, storeFailed, false},
		{"reader there, write failed", live, broken, storeFailed, false},
		{"reader there, store failed", live, whole, storeFailed, false},
	} {
		if got := c.d.Cut(c.ctx, c.err); got != c.want {
			t.Errorf("%s: Cut = %v, want %v", c.name, got, c.want)
		}
	}
}
