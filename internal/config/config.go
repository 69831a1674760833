// Package config owns Nomina's settings: one struct with documented defaults,
// read from an optional YAML file and overridden by NOMINA_* environment
// variables, validated once at start.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/igf/nomina/internal/mail"
)

// Config is every setting of the service. The yaml tag is the key in
// config/nomina.yaml; the env tag the overriding environment variable.
type Config struct {
	HTTPAddr        string        `yaml:"http_addr" env:"NOMINA_HTTP_ADDR"`
	MetricsAddr     string        `yaml:"metrics_addr" env:"NOMINA_METRICS_ADDR"`
	BaseURL         string        `yaml:"base_url" env:"NOMINA_BASE_URL"`
	DataDir         string        `yaml:"data_dir" env:"NOMINA_DATA_DIR"`
	MongoDBURI      string        `yaml:"mongodb_uri" env:"NOMINA_MONGODB_URI" secret:"true"`
	EmbeddedListen  string        `yaml:"embedded_listen" env:"NOMINA_EMBEDDED_LISTEN"`
	Database        string        `yaml:"database" env:"NOMINA_DATABASE"`
	WorkflowsDir    string        `yaml:"workflows_dir" env:"NOMINA_WORKFLOWS_DIR"`
	SMTPURL         string        `yaml:"smtp_url" env:"NOMINA_SMTP_URL" secret:"true"`
	SMTPFrom        string        `yaml:"smtp_from" env:"NOMINA_SMTP_FROM"`
	SMTPInsecure    bool          `yaml:"smtp_insecure_plaintext" env:"NOMINA_SMTP_INSECURE_PLAINTEXT"`
	LogLevel        string        `yaml:"log_level" env:"NOMINA_LOG_LEVEL"`
	LogFormat       string        `yaml:"log_format" env:"NOMINA_LOG_FORMAT"`
	ShutdownGrace   time.Duration `yaml:"shutdown_grace" env:"NOMINA_SHUTDOWN_GRACE"`
	ReadHeaderTime  time.Duration `yaml:"read_header_timeout" env:"NOMINA_READ_HEADER_TIMEOUT"`
	ReadTimeout     time.Duration `yaml:"read_timeout" env:"NOMINA_READ_TIMEOUT"`
	WriteTimeout    time.Duration `yaml:"write_timeout" env:"NOMINA_WRITE_TIMEOUT"`
	IdleTimeout     time.Duration `yaml:"idle_timeout" env:"NOMINA_IDLE_TIMEOUT"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes" env:"NOMINA_MAX_BODY_BYTES"`
	MaxUploadBytes  int64         `yaml:"max_upload_bytes" env:"NOMINA_MAX_UPLOAD_BYTES"`
	CORSOrigins     []string      `yaml:"cors_origins" env:"NOMINA_CORS_ORIGINS"`
	TrustedProxies  []string      `yaml:"trusted_proxies" env:"NOMINA_TRUSTED_PROXIES"`
	JWTKeysFile     string        `yaml:"jwt_keys_file" env:"NOMINA_JWT_KEYS_FILE"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl" env:"NOMINA_ACCESS_TOKEN_TTL"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl" env:"NOMINA_REFRESH_TOKEN_TTL"`
	LinkSecretFile  string        `yaml:"link_secret_file" env:"NOMINA_LINK_SECRET_FILE"`
	SecretsKeyFile  string        `yaml:"secrets_key_file" env:"NOMINA_SECRETS_KEY_FILE"`
	AdminEmail      string        `yaml:"admin_email" env:"NOMINA_ADMIN_EMAIL"`
	AdminPassword   string        `yaml:"-" env:"NOMINA_ADMIN_PASSWORD" secret:"true"`
	MailWorkers     int           `yaml:"mail_workers" env:"NOMINA_MAIL_WORKERS"`
	MailLease       time.Duration `yaml:"mail_lease" env:"NOMINA_MAIL_LEASE"`
	MailRetryBase   time.Duration `yaml:"mail_retry_base" env:"NOMINA_MAIL_RETRY_BASE"`
	Limits          Limits        `yaml:"limits"`
	// TestClockOffset shifts this instance's clock, for tests only: the
	// simulator gives instances skewed clocks with it.
	TestClockOffset time.Duration `yaml:"test_clock_offset" env:"NOMINA_TEST_CLOCK_OFFSET"`
}

// Default returns the settings used when nothing is configured: a working
// service on 127.0.0.1:8080 with the embedded store in ./data.
func Default() Config {
	return Config{
		HTTPAddr:        "127.0.0.1:8080",
		BaseURL:         "http://127.0.0.1:8080",
		DataDir:         "./data",
		Database:        "nomina",
		WorkflowsDir:    "workflows",
		SMTPFrom:        "Nomina <nomina@localhost>",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownGrace:   20 * time.Second,
		ReadHeaderTime:  5 * time.Second,
		ReadTimeout:     60 * time.Second,
		WriteTimeout:    5 * time.Minute,
		IdleTimeout:     2 * time.Minute,
		MaxBodyBytes:    1 << 20,
		MaxUploadBytes:  10 << 20,
		AccessTokenTTL:  10 * time.Minute,
		RefreshTokenTTL: 14 * 24 * time.Hour,
		MailWorkers:     2,
		MailLease:       5 * time.Minute,
		MailRetryBase:   time.Minute,
		Limits:          DefaultLimits(),
	}
}

// SettingError names the setting that is wrong and what it accepts.
type SettingError struct {
	Setting  string // the environment variable or file key
	Value    string
	Accepted string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("invalid setting %s=%q: %s", e.Setting, e.Value, e.Accepted)
}

// Load reads the YAML file at path (when path is not empty and the file
// exists, or when required is true), then applies the environment given by
// getenv, then validates. It returns a *SettingError for a bad value.
func Load(path string, required bool, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
				return cfg, &SettingError{Setting: path, Value: "", Accepted: "a YAML file with only the documented keys: " + yaml.FormatError(err, false, true)}
			}
		case errors.Is(err, os.ErrNotExist) && !required:
		default:
			return cfg, fmt.Errorf("read config: %w", err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	return applyEnvTo(reflect.ValueOf(cfg).Elem(), getenv)
}

// applyEnvTo sets the fields of the struct v from their env variables,
// and those of nested structs (such as Limits) from theirs.
func applyEnvTo(v reflect.Value, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if _, ok := f.Interface().(Limits); ok {
			if err := applyEnvTo(f, getenv); err != nil {
				return err
			}
			continue
		}
		name := t.Field(i).Tag.Get("env")
		raw := getenv(name)
		if name == "" || raw == "" {
			continue
		}
		switch f.Interface().(type) {
		case Rate:
			var r Rate
			if err := r.UnmarshalText([]byte(raw)); err != nil {
				return &SettingError{name, raw, "N/duration, such as 10/1h"}
			}
			f.Set(reflect.ValueOf(r))
		case string:
			f.SetString(raw)
		case bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return &SettingError{name, raw, "true or false"}
			}
			f.SetBool(b)
		case int:
			n, err := strconv.Atoi(raw)
			if err != nil {
				return &SettingError{name, raw, "a whole number"}
			}
			f.SetInt(int64(n))
		case int64:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return &SettingError{name, raw, "a whole number of bytes"}
			}
			f.SetInt(n)
		case time.Duration:
			d, err := time.ParseDuration(raw)
			if err != nil {
				return &SettingError{name, raw, "a duration such as 30s, 5m or 1h"}
			}
			f.SetInt(int64(d))
		case []string:
			var parts []string
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			f.Set(reflect.ValueOf(parts))
		}
	}
	return nil
}

// Validate checks every setting and returns a *SettingError naming the
// first bad one.
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || !validPort(port) {
		return &SettingError{"NOMINA_HTTP_ADDR", c.HTTPAddr, "host:port, for example 127.0.0.1:8080 or :8080"}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || !validPort(port) || (c.MetricsAddr == c.HTTPAddr && port != "0") {
			return &SettingError{"NOMINA_METRICS_ADDR", c.MetricsAddr, "host:port other than NOMINA_HTTP_ADDR, for example 127.0.0.1:9464, or empty for no metrics"}
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &SettingError{"NOMINA_BASE_URL", c.BaseURL, "an absolute http or https URL"}
	}
	if c.MongoDBURI == "" && c.DataDir == "" {
		return &SettingError{"NOMINA_DATA_DIR", c.DataDir, "a directory path (needed when NOMINA_MONGODB_URI is unset)"}
	}
	if c.MongoDBURI != "" && !strings.HasPrefix(c.MongoDBURI, "mongodb://") && !strings.HasPrefix(c.MongoDBURI, "mongodb+srv://") {
		return &SettingError{"NOMINA_MONGODB_URI", "(masked)", "a mongodb:// or mongodb+srv:// URI"}
	}
	if c.EmbeddedListen != "" {
		if _, port, err := net.SplitHostPort(c.EmbeddedListen); err != nil || !validPort(port) {
			return &SettingError{"NOMINA_EMBEDDED_LISTEN", c.EmbeddedListen, "host:port, for example 10.0.0.5:27018, or empty for no TCP port"}
		}
		if c.MongoDBURI != "" {
			return &SettingError{"NOMINA_EMBEDDED_LISTEN", c.EmbeddedListen, "empty when NOMINA_MONGODB_URI is set (it opens the embedded store only)"}
		}
	}
	if c.Database == "" || strings.ContainsAny(c.Database, "/\\. \"$") {
		return &SettingError{"NOMINA_DATABASE", c.Database, "a database name without / \\ . space \" or $"}
	}
	if c.WorkflowsDir == "" {
		return &SettingError{"NOMINA_WORKFLOWS_DIR", c.WorkflowsDir, "a directory of workflow definitions"}
	}
	if c.SMTPURL != "" {
		if u, err := url.Parse(c.SMTPURL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return &SettingError{"NOMINA_SMTP_URL", "(masked)", "smtp://[user:pass@]host:port or smtps://..."}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &SettingError{"NOMINA_LOG_LEVEL", c.LogLevel, "one of debug, info, warn, error"}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return &SettingError{"NOMINA_LOG_FORMAT", c.LogFormat, "text or json"}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"NOMINA_SHUTDOWN_GRACE", c.ShutdownGrace}, {"NOMINA_READ_HEADER_TIMEOUT", c.ReadHeaderTime},
		{"NOMINA_READ_TIMEOUT", c.ReadTimeout}, {"NOMINA_WRITE_TIMEOUT", c.WriteTimeout},
		{"NOMINA_IDLE_TIMEOUT", c.IdleTimeout}, {"NOMINA_ACCESS_TOKEN_TTL", c.AccessTokenTTL},
		{"NOMINA_REFRESH_TOKEN_TTL", c.RefreshTokenTTL},
	}
	for _, d := range durations {
		if d.d <= 0 {
			return &SettingError{d.name, d.d.String(), "a positive duration such as 30s or 5m"}
		}
	}
	if c.AccessTokenTTL > time.Hour {
		return &SettingError{"NOMINA_ACCESS_TOKEN_TTL", c.AccessTokenTTL.String(), "at most 1h (access tokens live minutes, not hours)"}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		return &SettingError{"NOMINA_MAX_BODY_BYTES", strconv.FormatInt(c.MaxBodyBytes, 10), "between 1024 and 67108864"}
	}
	if c.MaxUploadBytes < 1024 || c.MaxUploadBytes > 1<<30 {
		return &SettingError{"NOMINA_MAX_UPLOAD_BYTES", strconv.FormatInt(c.MaxUploadBytes, 10), "between 1024 and 1073741824"}
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return &SettingError{"NOMINA_TRUSTED_PROXIES", p, "IP addresses or CIDR ranges, comma-separated"}
			}
		}
	}
	if c.MailLease < mail.MinLease || c.MailLease > 24*time.Hour {
		return &SettingError{"NOMINA_MAIL_LEASE", c.MailLease.String(), fmt.Sprintf("a duration from %v to 24h: a batch's last message may take %v to send and %v to record, and %v are kept for clocks that differ", mail.MinLease, mail.SendTimeout, mail.RecordTimeout, mail.ClockMargin)}
	}
	if c.MailRetryBase < time.Second || c.MailRetryBase > time.Hour {
		return &SettingError{"NOMINA_MAIL_RETRY_BASE", c.MailRetryBase.String(), "a duration from 1s to 1h"}
	}
	if c.MailWorkers < 0 || c.MailWorkers > 64 {
		return &SettingError{"NOMINA_MAIL_WORKERS", strconv.Itoa(c.MailWorkers), "between 0 and 64"}
	}
	if c.TestClockOffset < -time.Hour || c.TestClockOffset > time.Hour {
		return &SettingError{"NOMINA_TEST_CLOCK_OFFSET", c.TestClockOffset.String(), "a duration from -1h to 1h (tests only), such as 3s or -2s"}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return &SettingError{"NOMINA_ADMIN_EMAIL", c.AdminEmail, "set together with NOMINA_ADMIN_PASSWORD"}
	}
	return c.Limits.validate()
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// LogValue prints the effective settings with secrets masked.
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	t := v.Type()
	attrs := make([]slog.Attr, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		val := fmt.Sprint(v.Field(i).Interface())
		if f.Tag.Get("secret") == "true" && val != "" {
			val = "*****"
		}
		key := f.Tag.Get("yaml")
		if key == "-" || key == "" {
			key = strings.ToLower(f.Tag.Get("env"))
		}
		attrs = append(attrs, slog.String(key, val))
	}
	return slog.GroupValue(attrs...)
}
