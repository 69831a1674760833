package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/clientclose"
)

// A download whose reader leaves after its headers came breaks under the
// writer: the write fails, the request's context is cancelled, and the
// cut is logged as a client close, not as the failure it would be if the
// reader were still there (the same download cut by its source).
func TestDownloadCutByTheReaderLeaving(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	h := &Handler{log: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))}
	ended := make(chan struct{}, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { ended <- struct{}{} }()
		rq := &request{h: h, w: w, r: r, ctx: r.Context()}
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		d := clientclose.NewDownload(w)
		if r.URL.Query().Get("source") == "fails" {
			_, _ = d.Write([]byte("id\n"))
			rq.cut(d, errors.New("the store failed"), slog.LevelError, "export failed mid-stream")
			return
		}
		<-r.Context().Done() // the reader left
		row := bytes.Repeat([]byte("x"), 64<<10)
		var err error
		for i := 0; i < 1<<12 && err == nil; i++ { // at most 256 MiB
			_, err = d.Write(row)
			if err == nil {
				err = http.NewResponseController(w).Flush()
			}
		}
		if err == nil {
			t.Error("writing to a reader who left never failed")
			return
		}
		rq.cut(d, err, slog.LevelError, "export failed mid-stream")
	}))
	defer srv.Close()
	records := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			out = append(out, rec)
		}
		logs.Reset()
		return out
	}

	resp, err := http.Get(srv.URL + "/export.csv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the reader leaves once the download began
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the download never ended")
	}
	if recs := records(); len(recs) != 1 || recs[0]["msg"] != "client closed request" || recs[0]["level"] != "INFO" {
		t.Errorf("a download its reader left: logged %v, want one client close at info", recs)
	}

	resp, err = http.Get(srv.URL + "/export.csv?source=fails")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	<-ended
	if recs := records(); len(recs) != 1 || recs[0]["msg"] != "export failed mid-stream" || recs[0]["level"] != "ERROR" {
		t.Errorf("a download its source cut: logged %v, want one error", recs)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
