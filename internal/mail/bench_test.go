package mail_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// BenchmarkDelivery compares, in one run against the same in-process SMTP
// server, messages per second through the queue (claim, render, send over
// one connection, record) with a plain go-mail loop sending over one
// connection (ratio: the queue's rate over the loop's, measured first),
// counts the store commands per message, and measures the time from
// enqueueing a job to the server accepting it with a polling worker.
//
//	go test -run '^$' -bench Delivery -benchtime 2000x ./internal/mail/
//
// On 2 shared cores (load about 5), before and after batching (claims and
// outcomes many at a time, one kept connection): 1 worker 147.7 -> 292.5
// msgs/s, ratio 0.020 -> 0.047 (the loop: 7,325 and 6,162 msgs/s), 6.02 ->
// 1.07 store commands per message; 1 instance x 2 workers 140.0 -> 253.8
// (0.019 -> 0.041); 3 instances 115.5 -> 220.5 (0.016 -> 0.036). What is
// left is the embedded store committing each updated job document on its
// own (one SQLite transaction, its WAL synced, per message).
func BenchmarkDelivery(b *testing.B) {
	srv := startSMTP(b)
	ctx := context.Background()
	var plainRate float64
	report := func(b *testing.B, mon *mongostore.CommandMonitor, before int64) {
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "msgs/s")
		if plainRate > 0 {
			b.ReportMetric(rate/plainRate, "ratio")
		}
		if mon != nil {
			b.ReportMetric(float64(mon.RoundTrips()-before)/float64(b.N), "store-cmds/msg")
		}
	}

	b.Run("plain go-mail loop", func(b *testing.B) {
		port, _ := strconv.Atoi(srv.port())
		c, err := gomail.NewClient("127.0.0.1", gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.DialWithContext(ctx); err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		tpl := mustTemplates(b)
		before := len(srv.messages())
		b.ResetTimer()
		for i := range b.N {
			j := testJob(i, fmt.Sprintf("p%d@example.org", i), time.Now())
			m, err := tpl.Render(j.Template, mail.JobData(j, testBase))
			if err != nil {
				b.Fatal(err)
			}
			msg := gomail.NewMsg()
			if err := msg.FromFormat("Nomina", "nomina@example.org"); err != nil {
				b.Fatal(err)
			}
			if err := msg.AddToFormat(j.Name, j.To); err != nil {
				b.Fatal(err)
			}
			msg.Subject(m.Subject)
			msg.SetMessageIDWithValue(fmt.Sprintf("plain-%d@nomina", i))
			msg.SetBodyString(gomail.TypeTextPlain, m.Text)
			msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
			if err := c.Send(msg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := len(srv.messages()) - before; got != b.N {
			b.Fatalf("server received %d, want %d", got, b.N)
		}
		plainRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(plainRate, "msgs/s")
	})

	// The worker's instance reads the embedded store's file as the
	// service's instances on its machine do (store), or has the driver
	// alone (driver: as on MongoDB, or from another machine).
	queues := map[string]func(b *testing.B, db string, mon *mongostore.CommandMonitor) *mongostore.MailQueue{
		"store": func(b *testing.B, db string, mon *mongostore.CommandMonitor) *mongostore.MailQueue {
			return storetest.StoreMonitored(b, db, mon).MailQueue()
		},
		"driver": func(b *testing.B, db string, mon *mongostore.CommandMonitor) *mongostore.MailQueue {
			return mongostore.New(storetest.ConnectMonitored(b, db, mon), nil).MailQueue()
		},
	}
	for _, path := range []string{"store", "driver"} {
		b.Run("queue/1 worker/"+path, func(b *testing.B) {
			queueOneWorker(b, srv, queues[path], report)
		})
	}

	// Instances of the service, each with its own store client and
	// workers (woken by the jobs enqueued through it), deliver one queue.
	for _, c := range []struct{ instances, workers int }{{1, 2}, {3, 1}} {
		b.Run(fmt.Sprintf("queue/%d instances x %d workers", c.instances, c.workers), func(b *testing.B) {
			db := storetest.NewDatabase(b)
			q := mongostore.New(db, nil).MailQueue()
			now := time.Now()
			for i := range b.N {
				mustEnqueue(b, q, testJob(i, fmt.Sprintf("p%d@example.org", i), now))
			}
			mon := mongostore.NewCommandMonitor(nil)
			var workers []*mail.Worker
			for i := range c.instances {
				wq := queues["store"](b, db.Name(), mon)
				for j := range c.workers {
					workers = append(workers, mustWorker(b, wq, srv, time.Now, uint64(10*i+j+1), func(ws *workerSetup) {
						ws.opts.PollInterval = 5 * time.Millisecond
						ws.opts.Wake = wq.Wake()
					}))
				}
			}
			before, trips := len(srv.messages()), mon.RoundTrips()
			b.ResetTimer()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			for _, w := range workers {
				go func() { _ = w.Run(rctx); done <- struct{}{} }()
			}
			waitUntil(b, time.Minute+time.Duration(b.N)*10*time.Millisecond, "every message received", func() bool { return len(srv.messages())-before >= b.N })
			b.StopTimer()
			cancel()
			for range workers {
				<-done
			}
			if got := len(srv.messages()) - before; got != b.N {
				b.Fatalf("server received %d, want %d", got, b.N)
			}
			report(b, mon, trips)
		})
	}

	// With a worker polling every 50ms, a job waits 25ms for the next poll
	// on average; the rest is claiming, rendering and sending.
	runs := 0
	b.Run("enqueue to accepted", func(b *testing.B) {
		runs++ // -count runs this again against the same server: fresh IDs
		q := storetest.NewStore(b).MailQueue()
		w := mustWorker(b, q, srv, time.Now, 7, func(ws *workerSetup) { ws.opts.PollInterval = 50 * time.Millisecond })
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = w.Run(rctx); close(done) }()
		defer func() { cancel(); <-done }()
		b.ResetTimer()
		for i := range b.N {
			j := testJob(i, fmt.Sprintf("lat%d@example.org", i), time.Now())
			j.ID = fmt.Sprintf("latency/%d/%d", runs, i)
			want := mail.MessageID(j.ID)
			if err := q.Enqueue(ctx, j); err != nil {
				b.Fatal(err)
			}
			deadline := time.Now().Add(time.Minute)
			for srv.countByMessageID()[want] == 0 {
				if time.Now().After(deadline) {
					b.Fatalf("job %d not accepted within a minute", i)
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
	})
}

// queueOneWorker has one worker, on the queue newQueue gives it, deliver
// b.N jobs enqueued beforehand, polling as fast as it can.
func queueOneWorker(b *testing.B, srv *smtpServer, newQueue func(*testing.B, string, *mongostore.CommandMonitor) *mongostore.MailQueue,
	report func(*testing.B, *mongostore.CommandMonitor, int64)) {
	ctx := context.Background()
	db := storetest.NewDatabase(b)
	q := mongostore.New(db, nil).MailQueue()
	now := time.Now()
	for i := range b.N {
		mustEnqueue(b, q, testJob(i, fmt.Sprintf("p%d@example.org", i), now))
	}
	mon := mongostore.NewCommandMonitor(nil)
	wq := newQueue(b, db.Name(), mon)
	w := mustWorker(b, wq, srv, time.Now, 1)
	before, trips := len(srv.messages()), mon.RoundTrips()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n, err := w.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("queue stalled after %d of %d", sent, b.N)
		}
		sent += n
	}
	b.StopTimer()
	if got := len(srv.messages()) - before; got != b.N {
		b.Fatalf("server received %d, want %d", got, b.N)
	}
	report(b, mon, trips)
}
