package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/export"
	"github.com/igf/nomina/internal/httpapi"
	"github.com/igf/nomina/internal/mail"
	"github.com/igf/nomina/internal/membership"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/web"
	"github.com/igf/nomina/internal/workflow"
)

func newLogger(cfg config.Config, e env) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// serve runs the service until ctx is cancelled (SIGINT/SIGTERM), then
// stops accepting, lets in-flight requests finish within the grace period
// and closes the store.
//
// With demo set it first fills an empty store with the demo (see
// fillDemo), refusing a store with other data.
func serve(ctx context.Context, e env, configPath string, demo bool) error {
	cfg, err := loadConfig(e, configPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e)
	log.Debug("effective configuration", "config", cfg)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	monitor := mongostore.NewCommandMonitor(reg)

	if cfg.MongoDBURI == "" {
		log.Info("starting embedded store", "data_dir", cfg.DataDir)
	}
	client, err := mongostore.Connect(ctx, mongostore.Options{
		URI: cfg.MongoDBURI, DataDir: cfg.DataDir, Database: cfg.Database, Logger: log, Monitor: monitor,
		EmbeddedListen: cfg.EmbeddedListen,
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := client.Close(cctx); err != nil {
			log.Warn("closing store", "err", err)
		}
	}()
	store := client.NewStore(cfg.Database, log)

	registry, err := loadWorkflows(cfg.WorkflowsDir, e)
	if err != nil {
		return err
	}
	wfFiles, wfLabel, builtin := workflowFiles(cfg.WorkflowsDir)
	log.Info("workflows", "from", wfLabel, "built_in", builtin)
	templates, err := loadMailTemplates(wfFiles)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("mail templates in %s/templates: %w", wfLabel, err)}
	}
	now := clockOf(cfg, log)
	sec, err := newSigning(cfg, log, now)
	if err != nil {
		return err
	}
	queue := store.MailQueue()
	links := sec.links
	limiter := store.Limits()
	accounts, err := auth.NewService(store.Users(), queue, sec.keys, auth.Config{
		BaseURL: cfg.BaseURL, AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, Logger: log, Now: now,
		Links: links, Limiter: limiter, Throttle: throttleFrom(cfg.Limits),
	})
	if err != nil {
		return err
	}
	sessions := accounts.Sessions(store.WebSessions(), auth.SessionConfig{})
	members, err := membership.New(membership.Config{Store: store.Members(), Workflows: registry, Logger: log, Now: now})
	if err != nil {
		return err
	}
	noms := store.Nominations()
	nominations := nomination.New(nomination.Config{
		Terms: members, Members: members, Histories: members,
		Store: noms, Files: noms, Outbox: queue, Directory: store.Directory(), Workflows: registry, Timers: store.Timers(),
		Links: links, BaseURL: cfg.BaseURL, MaxUploadBytes: cfg.MaxUploadBytes,
		ValidateTargets: export.ValidateTargets, Logger: log, Limiter: limiter, Limits: limitsFrom(cfg.Limits), Now: now,
	})

	// bootstrap archives the workflows and creates the first admin once the
	// store answers, or makes the link that sets it up (next says so).
	setup := accounts.Setup(store.Users(), 0)
	bgCtx, stopBackground := context.WithCancel(ctx)
	var next nextSteps
	bootstrap := func(ctx context.Context) error {
		wfTemplates, _, err := workflow.LoadTemplatesFS(wfFiles, wfLabel)
		if err != nil {
			return err
		}
		if err := syncWorkflowArchive(ctx, store.Workflows(), registry, wfTemplates, log); err != nil {
			return err
		}
		if err := sec.load(ctx, store); err != nil {
			return err
		}
		if demo {
			// Not under the preparation's deadline: filling takes a while.
			next.demo, err = fillDemo(bgCtx, demoDeps{users: store.Users(), accounts: accounts, nominations: nominations,
				members: members, now: time.Now(), log: log})
			if err != nil {
				return err
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(bgCtx, 30*time.Second)
			defer cancel()
		}
		if cfg.AdminEmail == "" {
			next.setupURL, next.expires, err = firstAdminSetup(ctx, setup, cfg.BaseURL)
			return err
		}
		created, err := accounts.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if created {
			log.Info("first admin created", "email", cfg.AdminEmail)
		}
		return err
	}
	// The store may not be there yet: wait for it in the background so the
	// service starts, answers /readyz with 503, and becomes ready when the
	// server appears.
	var prepared atomic.Bool
	listening := make(chan struct{})
	var background sync.WaitGroup
	defer func() {
		stopBackground()
		background.Wait() // before the store closes
	}()
	fatal := make(chan error, 1)
	background.Go(func() {
		if err := prepareStore(bgCtx, log, client, cfg.Database, &prepared, bootstrap); err != nil {
			fatal <- err
			return
		}
		select { // the last words of the start-up, after "listening"
		case <-listening:
			next.log(log, e.stderr, cfg.LogFormat == "json", cfg.BaseURL)
		case <-bgCtx.Done():
		}
	})
	mailCfg := mail.Config{SMTPURL: cfg.SMTPURL, From: cfg.SMTPFrom, BaseURL: cfg.BaseURL, InsecurePlaintext: cfg.SMTPInsecure, Workers: cfg.MailWorkers}
	host, _ := os.Hostname()
	background.Go(func() { nominations.RunTimers(bgCtx, host+"/"+strconv.Itoa(os.Getpid()), 15*time.Second) })
	background.Go(func() { purgeExpired(bgCtx, log, accounts, sessions, limiter) })
	background.Go(func() { sec.run(bgCtx) })
	if cfg.MailWorkers > 0 {
		background.Go(func() {
			if !sec.wait(bgCtx) { // no link is signed before the secrets are there
				return
			}
			if err := mail.RunWorkers(bgCtx, mailCfg, queue, templates, mail.WorkerOptions{Logger: log, StillAddressed: nominations.StillAddressed, Links: links, Clock: now, Lease: cfg.MailLease, RetryBase: cfg.MailRetryBase, Wake: queue.Wake()}, mail.SenderOptions{}); err != nil {
				log.Error("mail delivery stopped", "err", err)
			}
		})
	} else {
		mail.DeliveryDisabled(mail.Config{}, log)
	}

	pages, err := web.New(web.Config{
		Accounts: accounts, Sessions: sessions, Nominations: nominations, Workflows: registry,
		BaseURL: cfg.BaseURL, Logger: log, MaxFormBytes: cfg.MaxBodyBytes, MaxUploadBytes: cfg.MaxUploadBytes,
		ClientIP: httpapi.ClientIP, Members: members, Mail: queue, Setup: setup,
	})
	if err != nil {
		return err
	}
	srv := httpapi.New(httpapi.Config{
		Logger:         log,
		Registry:       reg,
		Gatherer:       reg,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxUploadBytes: cfg.MaxUploadBytes,
		CORSOrigins:    cfg.CORSOrigins,
		TrustedProxies: cfg.TrustedProxies,
		Version:        buildVersion(),
		Authenticate:   httpapi.AuthenticateWith(accounts),
		Auth:           accounts,
		Nominations:    nominations,
		Workflows:      registry,
		Members:        members,
		Shortlists:     export.Shortlists{},
		Mail:           queue,
		Ready: func(ctx context.Context) error {
			if err := client.Ping(ctx); err != nil {
				return err
			}
			if !prepared.Load() {
				return nomination.Errorf(nomination.EUNAVAILABLE, "the store is being prepared")
			}
			return nil
		},
	}, append([]func(*httpapi.Server){mountPages(pages)}, e.extraRoutes...)...)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s (NOMINA_HTTP_ADDR): %w", cfg.HTTPAddr, err)}
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTime,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	stopMetrics, err := serveMetrics(cfg, srv.MetricsHandler(), log)
	if err != nil {
		_ = hs.Close()
		return err
	}
	defer stopMetrics()
	if e.listening != nil {
		e.listening <- ln.Addr().String()
	}
	log.Info("nomina listening", "addr", ln.Addr().String(), "version", buildVersion(), "pid", os.Getpid())
	close(listening)

	var stopErr error
	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case err := <-fatal:
		stopErr = err
		log.Error("cannot start", "err", err)
	case <-ctx.Done():
	}
	// Stop taking requests and let those in flight finish, then stop the
	// background work, then (deferred) close the store.
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests cut off at the end of the grace period", "err", err)
		_ = hs.Close()
	}
	stopBackground()
	background.Wait()
	if stopErr != nil {
		return &exitError{code: 2, err: stopErr}
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// prepareStore waits for the store with a capped backoff, logging the first
// failure and then at most once a minute, then prepares the database
// (collections, indexes) and creates the first admin.
//
// It returns an error only for a problem retrying cannot mend: a setting
// the store refuses (an invalid or taken first-admin account, say).
func prepareStore(ctx context.Context, log *slog.Logger, client *mongostore.Client, database string, prepared *atomic.Bool, bootstrap func(context.Context) error) error {
	delay := 250 * time.Millisecond
	var lastLog time.Time
	for attempt := 1; ; attempt++ {
		pingCtx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
		err := client.Ping(pingCtx)
		cancelPing()
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err = client.Prepare(pctx, database); err == nil {
				err = bootstrap(pctx)
			}
			cancel()
		}
		if err == nil {
			prepared.Store(true)
			log.Info("store ready")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if isDemoError(err) {
			return err
		}
		var se *setupError
		if errors.As(err, &se) {
			return se
		}
		switch nomination.ErrorCode(err) {
		case nomination.EINVALID, nomination.ECONFLICT, nomination.EFORBIDDEN:
			return fmt.Errorf("first admin (NOMINA_ADMIN_EMAIL, NOMINA_ADMIN_PASSWORD): %s", nomination.ErrorMessage(err)+describeFields(err))
		}
		log.Debug("store attempt failed", "attempt", attempt, "err", err)
		if time.Since(lastLog) > time.Minute {
			log.Warn("store not reachable; retrying", "err", err, "next_try_in", delay)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 15*time.Second)
	}
}

// clockOf is the instance's clock: the system's, shifted by the test-only
// NOMINA_TEST_CLOCK_OFFSET (the simulator skews instances with it).
func clockOf(cfg config.Config, log *slog.Logger) func() time.Time {
	if cfg.TestClockOffset == 0 {
		return time.Now
	}
	log.Warn("this instance's clock is shifted for a test (NOMINA_TEST_CLOCK_OFFSET)", "offset", cfg.TestClockOffset)
	off := cfg.TestClockOffset
	return func() time.Time { return time.Now().Add(off) }
}

// describeFields lists the fields a domain error names, for a log line.
func describeFields(err error) string {
	var de *nomination.Error
	if !errors.As(err, &de) || len(de.Fields) == 0 {
		return ""
	}
	out := ""
	for _, f := range de.Fields {
		out += "; " + f.Field + ": " + f.Message
	}
	return out
}

// loadWorkflows loads every definition in dir; a file with any error stops
// the service, naming the file and line.
func loadWorkflows(dir string, e env) (*workflow.Registry, error) {
	fsys, label, _ := workflowFiles(dir)
	reg, diags, err := workflow.LoadFS(fsys, label)
	for _, d := range diags {
		fmt.Fprintln(e.stderr, d.String())
	}
	if err != nil || workflow.HasErrors(diags) {
		if err == nil {
			err = fmt.Errorf("invalid workflow definitions")
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("workflows in %s (NOMINA_WORKFLOWS_DIR): %w", dir, err)}
	}
	return reg, nil
}

// purgeExpired removes spent sessions (API and web), used links, old login
// attempts and the counts of ended limit windows hourly: the store has no
// expiring indexes to do it.
func purgeExpired(ctx context.Context, log *slog.Logger, accounts *auth.Service, sessions *auth.Sessions, limits *mongostore.Limits) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := sessions.PurgeExpired(ctx); err != nil {
			log.Warn("purge expired web sessions", "err", err)
		} else if n > 0 {
			log.Info("purged expired web sessions", "records", n)
		}
		if n, err := accounts.PurgeExpired(ctx); err != nil {
			log.Warn("purge expired sessions", "err", err)
		} else if n > 0 {
			log.Info("purged expired sessions and attempts", "records", n)
		}
		if _, err := limits.Purge(ctx, time.Now()); err != nil {
			log.Warn("purge ended limit windows", "err", err)
		}
	}
}

// serveMetrics serves the Prometheus metrics on NOMINA_METRICS_ADDR, apart
// from the public port, until the returned function is called; with no
// address it serves nothing. On a loopback address it also serves the Go
// runtime's profiles (/debug/pprof/), which only someone on the machine
// can ask for: a CPU profile costs the process while it runs.
func serveMetrics(cfg config.Config, h http.Handler, log *slog.Logger) (func(), error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("listen on %s (NOMINA_METRICS_ADDR): %w", cfg.MetricsAddr, err)}
	}
	if loopbackOnly(cfg.MetricsAddr) {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		h = mux
	}
	ms := &http.Server{Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTime, WriteTimeout: time.Minute, IdleTimeout: cfg.IdleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = ms.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = ms.Close() }, nil
}

// loopbackOnly reports whether addr (host:port) listens on a loopback
// address only: not an empty host or an unspecified one, which listen on
// every interface, nor a name other than localhost.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// mountPages mounts the web pages on the router beside the API.
func mountPages(pages *web.Handler) func(*httpapi.Server) {
	var routes []httpapi.PageRoute
	for _, r := range pages.Routes() {
		routes = append(routes, httpapi.PageRoute{Method: r.Method, Path: r.Path, Access: r.Access})
	}
	return httpapi.Pages(routes, pages, pages.NotFound())
}
