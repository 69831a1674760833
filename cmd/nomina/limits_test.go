package main

import (
	"testing"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/nomination"
)

// The documented defaults (config/nomina.yaml, config.Default) are the
// services' own defaults: a service built without the file behaves as the
// file says.
func TestConfiguredLimitsAreTheServicesDefaults(t *testing.T) {
	l := config.DefaultLimits()
	if got, want := throttleFrom(l), auth.DefaultThrottle(); got != want {
		t.Errorf("throttle from config %+v, auth default %+v", got, want)
	}
	if got, want := limitsFrom(l), nomination.DefaultLimits(); got != want {
		t.Errorf("limits from config %+v, nomination default %+v", got, want)
	}
}
