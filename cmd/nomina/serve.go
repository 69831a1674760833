package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/httpapi"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
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
func serve(ctx context.Context, e env, configPath string) error {
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
	store := mongostore.New(client.Database(cfg.Database), log)

	// The store may not be there yet: wait for it in the background so the
	// service starts, answers /readyz with 503, and becomes ready when the
	// server appears.
	var prepared atomic.Bool
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go prepareStore(bgCtx, log, client, store, &prepared)

	srv := httpapi.New(httpapi.Config{
		Logger:         log,
		Registry:       reg,
		Gatherer:       reg,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxUploadBytes: cfg.MaxUploadBytes,
		CORSOrigins:    cfg.CORSOrigins,
		Version:        buildVersion(),
		Ready: func(ctx context.Context) error {
			if err := client.Ping(ctx); err != nil {
				return err
			}
			if !prepared.Load() {
				return nomination.Errorf(nomination.EUNAVAILABLE, "the store is being prepared")
			}
			return nil
		},
	}, e.extraRoutes...)

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
	if e.listening != nil {
		e.listening <- ln.Addr().String()
	}
	log.Info("nomina listening", "addr", ln.Addr().String(), "version", buildVersion(), "pid", os.Getpid())

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace)
	stopBackground()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests cut off at the end of the grace period", "err", err)
		_ = hs.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

// prepareStore waits for the store with a capped backoff, logging the first
// failure and then at most once a minute, then creates the indexes.
func prepareStore(ctx context.Context, log *slog.Logger, client *mongostore.Client, store *mongostore.Store, prepared *atomic.Bool) {
	delay := 250 * time.Millisecond
	var lastLog time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := client.Ping(pctx)
		if err == nil {
			err = store.EnsureIndexes(pctx)
		}
		cancel()
		if err == nil {
			prepared.Store(true)
			log.Info("store ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastLog) > time.Minute {
			log.Warn("store not reachable; retrying", "err", err, "next_try_in", delay)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 15*time.Second)
	}
}
