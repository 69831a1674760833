package nomination

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/igf/nomina/internal/workflow"
)

// Terms answers how many consecutive terms a person has served on a body,
// for the workflows' eligibility guards.
type Terms interface {
	ConsecutiveTerms(ctx context.Context, body, email string, asOf time.Time) (int, error)
}

// Config gathers the Service's dependencies.
type Config struct {
	Store     Store
	Files     Files
	Outbox    Outbox
	Directory Directory
	Workflows *workflow.Registry
	// Terms is optional; without it consecutive_terms is 0.
	Terms Terms
	// Histories is optional; without it every person's record on the
	// bodies is empty (rules that ask who served see nobody).
	Histories Histories
	// Timers keeps armed timers; nil arms none.
	Timers TimerStore
	// Members creates memberships on appointment; nil creates none.
	Members Members
	Links   *LinkSigner
	// BaseURL is the public address links in mail point to.
	BaseURL string
	// ValidateTargets checks a call's balance targets; nil accepts any
	// JSON object.
	ValidateTargets func(json.RawMessage) error
	// MaxUploadBytes bounds one attachment when its field sets no limit.
	MaxUploadBytes int64
	Now            func() time.Time
	Rand           io.Reader
	Logger         *slog.Logger
	// LinkTTL is how long a consent or endorsement link stays valid.
	LinkTTL time.Duration
	// MaxAttempts bounds the retries of a commit that lost a race.
	MaxAttempts int
	// Limiter keeps the counts Limits are checked against; nil checks
	// none. Limits left zero take DefaultLimits.
	Limiter Limiter
	Limits  Limits

	// AfterAppend, when set, runs after an event is committed and before
	// its side effects and projection are written. It exists to simulate a
	// crash at that point; production leaves it nil.
	AfterAppend func(Event) error
}

// Service runs calls and nominations: every change is committed as an event
// with a unique sequence number, the projection is rewritten after it and
// repaired by any reader that finds it behind, and the change's mail is
// derived from the event with deterministic ids.
type Service struct {
	Config
}

// New returns a Service; it fills in defaults for the clock, randomness,
// logger and limits.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 10 << 20
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 30 * 24 * time.Hour
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 50
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{Config: cfg}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix and 128 random bits: ids are not guessable.
func (s *Service) newID(prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", err
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// definition returns the workflow version a nomination started with.
func (s *Service) definition(n *Nomination) (*workflow.Definition, error) {
	def, ok := s.Workflows.Get(n.Workflow.ID, n.Workflow.Version, n.Workflow.Hash)
	if !ok {
		return nil, Errorf(EINTERNAL, "workflow %s version %d (%s) is not loaded", n.Workflow.ID, n.Workflow.Version, n.Workflow.Hash)
	}
	return def, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own payload types are marshalled
	}
	return b
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
