package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Rate is a limit written "N/duration": at most N in each window of that
// length, such as "10/1h" or "60/1m".
type Rate struct {
	Max int
	Per time.Duration
}

// String writes the rate as the file does.
func (r Rate) String() string {
	return strconv.Itoa(r.Max) + "/" + shortDuration(r.Per)
}

// shortDuration writes d without zero units: "1h", "24h", "15m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalText reads "N/duration".
func (r *Rate) UnmarshalText(b []byte) error {
	n, per, ok := strings.Cut(strings.TrimSpace(string(b)), "/")
	max, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil {
		return fmt.Errorf("%q: want N/duration such as 10/1h", b)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil {
		return fmt.Errorf("%q: want N/duration such as 10/1h", b)
	}
	*r = Rate{Max: max, Per: d}
	return nil
}

// MarshalText writes the rate as UnmarshalText reads it.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Limits bounds what one account, one client address, or everyone together
// may make Nomina do (config key "limits"). The counts live in the store,
// so every instance shares them.
type Limits struct {
	RegistrationsPerAddress       Rate          `yaml:"registrations_per_address" env:"NOMINA_LIMIT_REGISTRATIONS_PER_ADDRESS"`
	Registrations                 Rate          `yaml:"registrations" env:"NOMINA_LIMIT_REGISTRATIONS"`
	LoginWindow                   time.Duration `yaml:"login_window" env:"NOMINA_LIMIT_LOGIN_WINDOW"`
	LoginFreeFailures             int           `yaml:"login_free_failures" env:"NOMINA_LIMIT_LOGIN_FREE_FAILURES"`
	LoginBaseDelay                time.Duration `yaml:"login_base_delay" env:"NOMINA_LIMIT_LOGIN_BASE_DELAY"`
	LoginMaxDelay                 time.Duration `yaml:"login_max_delay" env:"NOMINA_LIMIT_LOGIN_MAX_DELAY"`
	LoginFailuresPerAccount       int           `yaml:"login_failures_per_account" env:"NOMINA_LIMIT_LOGIN_FAILURES_PER_ACCOUNT"`
	LoginFailuresPerAddress       int           `yaml:"login_failures_per_address" env:"NOMINA_LIMIT_LOGIN_FAILURES_PER_ADDRESS"`
	PasswordResetsPerHour         int           `yaml:"password_resets_per_hour" env:"NOMINA_LIMIT_PASSWORD_RESETS_PER_HOUR"`
	ConfirmationMails             Rate          `yaml:"confirmation_mails" env:"NOMINA_LIMIT_CONFIRMATION_MAILS"`
	Writes                        Rate          `yaml:"writes" env:"NOMINA_LIMIT_WRITES"`
	NominationsPerAccount         Rate          `yaml:"nominations_per_account" env:"NOMINA_LIMIT_NOMINATIONS_PER_ACCOUNT"`
	NominationsPerAddress         Rate          `yaml:"nominations_per_address" env:"NOMINA_LIMIT_NOMINATIONS_PER_ADDRESS"`
	ConsentRequestsPerAccount     Rate          `yaml:"consent_requests_per_account" env:"NOMINA_LIMIT_CONSENT_REQUESTS_PER_ACCOUNT"`
	ConsentRequestsPerAddress     Rate          `yaml:"consent_requests_per_address" env:"NOMINA_LIMIT_CONSENT_REQUESTS_PER_ADDRESS"`
	EndorsementRequestsPerAccount Rate          `yaml:"endorsement_requests_per_account" env:"NOMINA_LIMIT_ENDORSEMENT_REQUESTS_PER_ACCOUNT"`
	EndorsementRequestsPerAddress Rate          `yaml:"endorsement_requests_per_address" env:"NOMINA_LIMIT_ENDORSEMENT_REQUESTS_PER_ADDRESS"`
	MailsPerRecipient             Rate          `yaml:"mails_per_recipient" env:"NOMINA_LIMIT_MAILS_PER_RECIPIENT"`
}

// DefaultLimits are the limits config/nomina.yaml documents.
func DefaultLimits() Limits {
	day := 24 * time.Hour
	return Limits{
		RegistrationsPerAddress:       Rate{10, time.Hour},
		Registrations:                 Rate{500, time.Hour},
		LoginWindow:                   15 * time.Minute,
		LoginFreeFailures:             5,
		LoginBaseDelay:                time.Second,
		LoginMaxDelay:                 15 * time.Minute,
		LoginFailuresPerAccount:       10,
		LoginFailuresPerAddress:       100,
		PasswordResetsPerHour:         3,
		ConfirmationMails:             Rate{5, time.Hour},
		Writes:                        Rate{60, time.Minute},
		NominationsPerAccount:         Rate{20, day},
		NominationsPerAddress:         Rate{100, day},
		ConsentRequestsPerAccount:     Rate{10, day},
		ConsentRequestsPerAddress:     Rate{50, day},
		EndorsementRequestsPerAccount: Rate{30, day},
		EndorsementRequestsPerAddress: Rate{100, day},
		MailsPerRecipient:             Rate{5, day},
	}
}

// validate returns a *SettingError naming the first limit that is out of
// range: every count at least 1, every window from a second to a week.
func (l Limits) validate() error {
	v := reflect.ValueOf(l)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("env")
		switch x := v.Field(i).Interface().(type) {
		case Rate:
			if x.Max < 1 || x.Max > 1_000_000 || x.Per < time.Second || x.Per > 7*24*time.Hour {
				return &SettingError{name, x.String(), "N/duration with N from 1 to 1000000 and a duration from 1s to 168h, such as 10/1h"}
			}
		case int:
			if x < 1 || x > 1_000_000 {
				return &SettingError{name, strconv.Itoa(x), "a whole number from 1 to 1000000"}
			}
		case time.Duration:
			if x < time.Millisecond || x > 7*24*time.Hour {
				return &SettingError{name, x.String(), "a duration from 1ms to 168h"}
			}
		}
	}
	return nil
}
