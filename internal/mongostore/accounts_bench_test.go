package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore/storetest"
)

// The lookups a sign-in and a vote make among accounts, with 1,000 and
// with 100,000 accounts stored (200 of them reviewers, 50 on each of four
// panels, and 10 secretariat, whatever the count: what grows is everyone
// else; each account with a recent failed sign-in):
// a panel's members, the staff (mail audiences, quorums), the sign-in
// throttle's count of one account's attempts, and an account by address.
//
//	go test -run '^$' -bench AccountLookups -benchtime 200x -timeout 30m ./internal/mongostore/
func BenchmarkAccountLookups(b *testing.B) {
	for _, count := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("accounts=%d", count), func(b *testing.B) {
			ctx := context.Background()
			store := storetest.NewStore(b)
			users := store.Users()
			panels := []string{"government", "private_sector", "civil_society", "technical_community"}
			now := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Go(func() {
					for i := w; i < count; i += 4 {
						u := &auth.User{ID: fmt.Sprintf("u%07d", i), EmailKey: fmt.Sprintf("p%07d@example.org", i), Email: fmt.Sprintf("p%07d@example.org", i),
							Name: fmt.Sprint("Person ", i), Roles: []auth.Role{auth.RoleCandidate}, CreatedAt: now, UpdatedAt: now}
						switch {
						case i%100 == 0 && i < 1000:
							u.Roles = append(u.Roles, auth.RoleSecretariat)
						case i%5 == 1 && i < 1000:
							u.Roles, u.Panels = append(u.Roles, auth.RoleReviewer), []string{panels[(i/5)%4]}
						}
						if err := users.CreateUser(ctx, u); err != nil {
							b.Error(err)
							return
						}
						if err := users.AddAttempt(ctx, auth.Attempt{ID: fmt.Sprintf("a%07d", i), Key: "account:" + u.EmailKey, At: now}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			dir := store.Directory()
			b.Run("panel-members", func(b *testing.B) {
				for b.Loop() {
					ms, err := dir.PanelMembers(ctx, "civil_society")
					if err != nil || len(ms) != 50 {
						b.Fatalf("%d members, %v", len(ms), err)
					}
				}
			})
			b.Run("staff", func(b *testing.B) {
				for b.Loop() {
					ms, err := dir.Staff(ctx)
					if err != nil || len(ms) != 10 {
						b.Fatalf("%d staff, %v", len(ms), err)
					}
				}
			})
			// The same lookups behind the instance's cache (what one
			// request a second, or the first after a change, costs).
			b.Run("panel-members-uncached", func(b *testing.B) {
				for b.Loop() {
					store.ForgetCaches()
					ms, err := dir.PanelMembers(ctx, "civil_society")
					if err != nil || len(ms) != 50 {
						b.Fatalf("%d members, %v", len(ms), err)
					}
				}
			})
			b.Run("staff-uncached", func(b *testing.B) {
				for b.Loop() {
					store.ForgetCaches()
					ms, err := dir.Staff(ctx)
					if err != nil || len(ms) != 10 {
						b.Fatalf("%d staff, %v", len(ms), err)
					}
				}
			})
			b.Run("throttle-attempts", func(b *testing.B) {
				for b.Loop() {
					ts, err := users.Attempts(ctx, "account:p0000007@example.org", now.Add(-time.Hour), 64)
					if err != nil || len(ts) != 1 {
						b.Fatalf("%d attempts, %v", len(ts), err)
					}
				}
			})
			b.Run("by-address", func(b *testing.B) {
				for b.Loop() {
					if _, err := users.UserByEmailKey(ctx, "p0000007@example.org"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
