package clientclose_test

import (
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
