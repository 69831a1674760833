package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("../../config/nomina.yaml", true, env(nil))
	if err != nil {
		t.Fatalf("the documented file does not load: %v", err)
	}
	if fmt.Sprint(cfg) != fmt.Sprint(Default()) {
		t.Fatalf("config/nomina.yaml differs from the defaults:\n%+v\n%+v", cfg, Default())
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cfg, err := Load("", false, env(map[string]string{
		"NOMINA_HTTP_ADDR": ":9090", "NOMINA_SHUTDOWN_GRACE": "3s", "NOMINA_MAIL_WORKERS": "4",
		"NOMINA_CORS_ORIGINS": "https://a.example, https://b.example", "NOMINA_SMTP_INSECURE_PLAINTEXT": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":9090" || cfg.ShutdownGrace != 3*time.Second || cfg.MailWorkers != 4 || !cfg.SMTPInsecure ||
		len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[1] != "https://b.example" {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestInvalidSettingsNameTheSetting(t *testing.T) {
	cases := map[string]string{
		"NOMINA_HTTP_ADDR":        "nonsense",
		"NOMINA_BASE_URL":         "ftp://x",
		"NOMINA_MONGODB_URI":      "postgres://x",
		"NOMINA_LOG_LEVEL":        "loud",
		"NOMINA_SHUTDOWN_GRACE":   "-1s",
		"NOMINA_ACCESS_TOKEN_TTL": "3h",
		"NOMINA_MAX_BODY_BYTES":   "12",
		"NOMINA_MAIL_WORKERS":     "many",
		"NOMINA_SMTP_URL":         "http://mail",
		"NOMINA_TRUSTED_PROXIES":  "not-an-ip",
		"NOMINA_DATABASE":         "a.b",
		"NOMINA_EMBEDDED_LISTEN":  "27018",
		"NOMINA_METRICS_ADDR":     "127.0.0.1:8080",
	}
	for key, val := range cases {
		t.Run(key, func(t *testing.T) {
			_, err := Load("", false, env(map[string]string{key: val}))
			var se *SettingError
			if !errors.As(err, &se) || se.Setting != key || se.Accepted == "" {
				t.Fatalf("err = %v, want a SettingError naming %s", err, key)
			}
		})
	}
}

// The embedded store's TLS listener is the embedded store's: with a
// MongoDB server configured it would silently do nothing.
func TestEmbeddedListenNeedsTheEmbeddedStore(t *testing.T) {
	cfg, err := Load("", false, env(map[string]string{"NOMINA_EMBEDDED_LISTEN": "127.0.0.1:27018"}))
	if err != nil || cfg.EmbeddedListen != "127.0.0.1:27018" {
		t.Fatalf("cfg.EmbeddedListen = %q, %v", cfg.EmbeddedListen, err)
	}
	_, err = Load("", false, env(map[string]string{"NOMINA_EMBEDDED_LISTEN": "127.0.0.1:27018", "NOMINA_MONGODB_URI": "mongodb://db:27017"}))
	var se *SettingError
	if !errors.As(err, &se) || se.Setting != "NOMINA_EMBEDDED_LISTEN" {
		t.Fatalf("err = %v, want a SettingError naming NOMINA_EMBEDDED_LISTEN", err)
	}
}

func TestUnknownKeyInFileIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n.yaml")
	if err := os.WriteFile(p, []byte("http_adr: 1.2.3.4:80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, true, env(nil)); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}

func TestSecretsAreMaskedInTheLog(t *testing.T) {
	cfg := Default()
	cfg.MongoDBURI = "mongodb://user:hunter2@db:27017"
	cfg.SMTPURL = "smtp://u:s3cret@mail:587"
	cfg.AdminPassword = "topsecretpassword"
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", cfg)
	for _, secret := range []string{"hunter2", "s3cret", "topsecretpassword"} {
		if strings.Contains(b.String(), secret) {
			t.Fatalf("secret %q in %s", secret, b.String())
		}
	}
	if !strings.Contains(b.String(), "http_addr=127.0.0.1:8080") {
		t.Fatalf("settings missing: %s", b.String())
	}
}

// The limits are read from the file and the environment, and a bad one is
// refused naming its variable.
func TestLimits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n.yaml")
	if err := os.WriteFile(p, []byte("limits:\n  writes: 5/1m\n  login_free_failures: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p, true, env(map[string]string{"NOMINA_LIMIT_REGISTRATIONS": "7/2h", "NOMINA_LIMIT_LOGIN_MAX_DELAY": "5m"}))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.Writes != (Rate{5, time.Minute}) || l.LoginFreeFailures != 3 || l.Registrations != (Rate{7, 2 * time.Hour}) ||
		l.LoginMaxDelay != 5*time.Minute || l.MailsPerRecipient != DefaultLimits().MailsPerRecipient {
		t.Fatalf("limits = %+v", l)
	}
	for key, val := range map[string]string{
		"NOMINA_LIMIT_WRITES":                    "lots",
		"NOMINA_LIMIT_MAILS_PER_RECIPIENT":       "0/24h",
		"NOMINA_LIMIT_REGISTRATIONS_PER_ADDRESS": "10/1ms",
		"NOMINA_LIMIT_LOGIN_FREE_FAILURES":       "0",
	} {
		_, err := Load("", false, env(map[string]string{key: val}))
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != key {
			t.Errorf("%s=%s: err = %v, want a SettingError naming it", key, val, err)
		}
	}
	if _, err := Load(writeFile(t, "limits:\n  writes: 5 per minute\n"), true, env(nil)); err == nil {
		t.Error("a rate that is not N/duration was accepted in the file")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "n.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A mail lease must outlast the longest batch a worker may be at: its last
// message's send and the recording of the outcomes, with a margin for
// clocks. 75s (what nomina-sim gives its instances) is the least.
func TestMailLeaseOutlastsTheLongestBatch(t *testing.T) {
	for _, val := range []string{"5s", "60s", "74s"} {
		_, err := Load("", false, env(map[string]string{"NOMINA_MAIL_LEASE": val}))
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != "NOMINA_MAIL_LEASE" || !strings.Contains(se.Accepted, "from 1m15s") || !strings.Contains(se.Accepted, "30s to send") {
			t.Errorf("NOMINA_MAIL_LEASE=%s: err = %v, want a SettingError naming it and the least lease", val, err)
		}
	}
	for _, val := range []string{"75s", "5m"} {
		if cfg, err := Load("", false, env(map[string]string{"NOMINA_MAIL_LEASE": val})); err != nil || cfg.MailLease.String() != (map[string]string{"75s": "1m15s", "5m": "5m0s"})[val] {
			t.Errorf("NOMINA_MAIL_LEASE=%s: %v, %v", val, cfg.MailLease, err)
		}
	}
}
