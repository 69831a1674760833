package main

import (
	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/config"
	"github.com/igf/nomina/internal/nomination"
)

// rate converts a configured rate for the domain.
func rate(r config.Rate) nomination.Rate { return nomination.Rate{Max: r.Max, Per: r.Per} }

// throttleFrom is the account service's share of the configured limits.
func throttleFrom(l config.Limits) auth.ThrottleConfig {
	return auth.ThrottleConfig{
		Window: l.LoginWindow, FreeFailures: l.LoginFreeFailures, BaseDelay: l.LoginBaseDelay, MaxDelay: l.LoginMaxDelay,
		PerAccount: l.LoginFailuresPerAccount, PerAddress: l.LoginFailuresPerAddress, ResetsPerHour: l.PasswordResetsPerHour,
		RegistrationsPerAddress: rate(l.RegistrationsPerAddress), Registrations: rate(l.Registrations),
		ConfirmationMails: rate(l.ConfirmationMails),
	}
}

// limitsFrom is the nomination service's share of the configured limits.
func limitsFrom(l config.Limits) nomination.Limits {
	return nomination.Limits{
		Writes:                        rate(l.Writes),
		NominationsPerAccount:         rate(l.NominationsPerAccount),
		NominationsPerAddress:         rate(l.NominationsPerAddress),
		ConsentRequestsPerAccount:     rate(l.ConsentRequestsPerAccount),
		ConsentRequestsPerAddress:     rate(l.ConsentRequestsPerAddress),
		EndorsementRequestsPerAccount: rate(l.EndorsementRequestsPerAccount),
		EndorsementRequestsPerAddress: rate(l.EndorsementRequestsPerAddress),
		MailsPerRecipient:             rate(l.MailsPerRecipient),
	}
}
