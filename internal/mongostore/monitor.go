package mongostore

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/event"
)

// CommandMonitor counts the commands sent to the store: by name and outcome
// for Prometheus, and in total for measuring round trips per request.
type CommandMonitor struct {
	ops    *prometheus.CounterVec
	errs   *prometheus.CounterVec
	total  atomic.Int64
	failed atomic.Int64
}

// NewCommandMonitor returns a monitor whose metrics are registered with reg
// (nil: not exported, only counted).
func NewCommandMonitor(reg prometheus.Registerer) *CommandMonitor {
	m := &CommandMonitor{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nomina_store_operations_total",
			Help: "Commands sent to the store, by command name.",
		}, []string{"command"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nomina_store_errors_total",
			Help: "Commands that failed, by command name.",
		}, []string{"command"}),
	}
	if reg != nil {
		reg.MustRegister(m.ops, m.errs)
	}
	return m
}

// RoundTrips returns how many commands have completed so far.
func (m *CommandMonitor) RoundTrips() int64 { return m.total.Load() }

// Failures returns how many commands have failed so far.
func (m *CommandMonitor) Failures() int64 { return m.failed.Load() }

func (m *CommandMonitor) driverMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.total.Add(1)
			m.ops.WithLabelValues(e.CommandName).Inc()
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			m.total.Add(1)
			m.failed.Add(1)
			m.ops.WithLabelValues(e.CommandName).Inc()
			m.errs.WithLabelValues(e.CommandName).Inc()
		},
	}
}
