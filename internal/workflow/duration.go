package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxDuration bounds every duration in a workflow file: ten years is more
// than any stage of any call lasts.
const maxDuration = 10 * 365 * 24 * time.Hour

// parseDuration reads Go duration syntax ("72h", "90m", "1h30m") extended
// with a leading whole number of days ("14d", "1d12h"), since review and
// reminder periods are counted in days. It returns an error for anything
// else, negative or zero durations, and durations over ten years.
func parseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var d time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 || s[:i] == "" || s[0] == '+' || s[0] == '-' {
			return 0, fmt.Errorf("invalid duration %q: use forms such as 14d, 72h or 1d12h", orig)
		}
		if days > int(maxDuration/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is longer than ten years", orig)
		}
		d = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
	}
	if s != "" {
		if s[0] == '-' || s[0] == '+' {
			return 0, fmt.Errorf("invalid duration %q: use forms such as 14d, 72h or 1d12h", orig)
		}
		rest, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use forms such as 14d, 72h or 1d12h", orig)
		}
		d += rest
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", orig)
	}
	if d > maxDuration {
		return 0, fmt.Errorf("duration %q is longer than ten years", orig)
	}
	return d, nil
}

// formatDuration renders d the way files write it: whole days as "14d",
// anything else in Go syntax.
func formatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	if d > day {
		return strconv.FormatInt(int64(d/day), 10) + "d" + (d % day).String()
	}
	return d.String()
}
