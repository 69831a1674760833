package mail_test

import (
	"context"
	"testing"
	"time"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// A worker waiting for its next poll (an hour away) sends a job enqueued
// through the same store at once: the queue wakes it.
func TestWorkerWokenByNewJobs(t *testing.T) {
	srv := startSMTP(t)
	q := storetest.NewStore(t).MailQueue()
	w := mustWorker(t, q, srv, time.Now, 1, func(ws *workerSetup) {
		ws.opts.PollInterval = time.Hour
		ws.opts.Wake = q.Wake()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	received := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for len(srv.messages()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages received", len(srv.messages()), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The first poll, at start, sends the first job; the second is sent
	// only if the worker is woken.
	mustEnqueue(t, q, testJob(1, "ana@example.org", time.Now()))
	received(1)
	mustEnqueue(t, q, testJob(2, "bo@example.org", time.Now()))
	received(2)
	if got := srv.messages()[1].MessageID; got != mail.MessageID(testJob(2, "", time.Time{}).ID) {
		t.Fatalf("second message %q", got)
	}
}
