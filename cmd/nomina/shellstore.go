package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/mongostore"
)

// shellStore is the store as a command run from the shell opens it.
type shellStore struct {
	cfg    config.Config
	log    *slog.Logger
	client *mongostore.Client
	store  *mongostore.Store
}

// openShellStore reads the settings and opens the configured store, ready
// for use; only the store's warnings and errors reach the terminal. With the
// embedded store the service should be stopped meanwhile.
func openShellStore(ctx context.Context, e env, configPath string) (*shellStore, error) {
	cfg, err := loadConfig(e, configPath)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, err := mongostore.Connect(ctx, mongostore.Options{URI: cfg.MongoDBURI, DataDir: cfg.DataDir, Database: cfg.Database, Logger: log})
	if err != nil {
		return nil, &exitError{code: 1, err: fmt.Errorf("store: %w", err)}
	}
	s := &shellStore{cfg: cfg, log: log, client: client, store: client.NewStore(cfg.Database, log)}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx); err != nil {
		s.Close(ctx)
		return nil, &exitError{code: 1, err: err}
	}
	if err := client.Prepare(pctx, cfg.Database); err != nil {
		s.Close(ctx)
		return nil, &exitError{code: 1, err: fmt.Errorf("store: %w", err)}
	}
	return s, nil
}

// Close disconnects (and stops the embedded store).
func (s *shellStore) Close(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.client.Close(cctx)
}
