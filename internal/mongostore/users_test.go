package mongostore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 123_000_000, time.UTC)

func mustCreateUser(tb testing.TB, s *mongostore.Users, id, key string, roles ...auth.Role) *auth.User {
	tb.Helper()
	u := &auth.User{
		ID: id, Email: key, EmailKey: key, Name: "User " + id, Roles: roles, Panels: []string{},
		PasswordHash: "$argon2id$x", ValidAfter: t0.Truncate(time.Second), CreatedAt: t0, UpdatedAt: t0,
	}
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("create %s: %v", key, err)
	}
	return u
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := nomination.ErrorCode(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func TestUsersRoundTrip(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	want := mustCreateUser(t, s, "u-1", "ana@example.org", auth.RoleReviewer, auth.RoleCandidate)
	for name, get := range map[string]func() (*auth.User, error){
		"by id":    func() (*auth.User, error) { return s.UserByID(ctx, "u-1") },
		"by email": func() (*auth.User, error) { return s.UserByEmailKey(ctx, "ana@example.org") },
	} {
		t.Run(name, func(t *testing.T) {
			got, err := get()
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || len(got.Roles) != 2 ||
				got.Roles[0] != auth.RoleReviewer || got.PasswordHash != want.PasswordHash ||
				!got.ValidAfter.Equal(want.ValidAfter) || !got.CreatedAt.Equal(t0) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
	_, err := s.UserByID(ctx, "u-2")
	wantCode(t, err, nomination.ENOTFOUND)
	_, err = s.UserByEmailKey(ctx, "bob@example.org")
	wantCode(t, err, nomination.ENOTFOUND)
}

// The email key is the unique commit point: of 20 concurrent creations
// with one key exactly one succeeds.
func TestCreateUserUniqueEmail(t *testing.T) {
	s := storetest.NewStore(t).Users()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateUser(context.Background(), &auth.User{ID: fmt.Sprintf("u-%d", i), Email: "Ana@Example.org", EmailKey: "ana@example.org", Roles: []auth.Role{auth.RoleCandidate}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, nomination.ECONFLICT)
	}
	if ok != 1 {
		t.Fatalf("%d creations succeeded, want 1", ok)
	}
}

func TestUpdateUser(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	mustCreateUser(t, s, "u-1", "ana@example.org", auth.RoleCandidate)
	name, hash, yes := "Ana María", "$argon2id$new", true
	roles := []auth.Role{auth.RoleReviewer}
	panels := []string{"civil_society"}
	va := t0.Add(time.Hour).Truncate(time.Second)
	got, err := s.UpdateUser(ctx, "u-1", auth.UserChanges{
		Name: &name, Roles: &roles, Panels: &panels, Disabled: &yes, PasswordHash: &hash, ValidAfter: &va, UpdatedAt: t0.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.Roles[0] != auth.RoleReviewer || got.Panels[0] != "civil_society" || !got.Disabled ||
		got.PasswordHash != hash || !got.ValidAfter.Equal(va) || got.Organization != "" || got.Email != "ana@example.org" {
		t.Fatalf("after update: %+v", got)
	}
	// Fields not named stay as they are.
	org := "ISOC"
	got, err = s.UpdateUser(ctx, "u-1", auth.UserChanges{Organization: &org, UpdatedAt: t0.Add(2 * time.Hour)})
	if err != nil || got.Organization != "ISOC" || got.Name != name || got.PasswordHash != hash {
		t.Fatalf("after second update: %+v, %v", got, err)
	}
	if got.EmailConfirmed() {
		t.Fatal("confirmed without being confirmed")
	}
	confirmed := t0.Add(3 * time.Hour)
	got, err = s.UpdateUser(ctx, "u-1", auth.UserChanges{EmailConfirmedAt: &confirmed, UpdatedAt: confirmed})
	if err != nil || !got.EmailConfirmedAt.Equal(confirmed) || got.Organization != "ISOC" {
		t.Fatalf("after confirmation: %+v, %v", got, err)
	}
	if again, err := s.UserByID(ctx, "u-1"); err != nil || !again.EmailConfirmedAt.Equal(confirmed) {
		t.Fatalf("confirmation read back: %+v, %v", again, err)
	}
	_, err = s.UpdateUser(ctx, "u-9", auth.UserChanges{Organization: &org})
	wantCode(t, err, nomination.ENOTFOUND)
}

// Concurrent updates of different fields of one user all hold in the end:
// each is read back and applied again if another overwrote it.
func TestUpdateUserConcurrentFields(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	mustCreateUser(t, s, "u-1", "ana@example.org", auth.RoleCandidate)
	hash := "$argon2id$changed"
	va := t0.Add(time.Hour).Truncate(time.Second)
	org := "ISOC"
	yes := true
	changes := []auth.UserChanges{
		{PasswordHash: &hash, ValidAfter: &va},
		{Organization: &org},
		{Disabled: &yes},
	}
	var wg sync.WaitGroup
	for _, ch := range changes {
		wg.Go(func() {
			if _, err := s.UpdateUser(ctx, "u-1", ch); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.UserByID(ctx, "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != hash || !got.ValidAfter.Equal(va) || got.Organization != org || !got.Disabled {
		t.Fatalf("a concurrent change was lost: %+v", got)
	}
}

func TestListUsers(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	mustCreateUser(t, s, "u-c", "carla@example.org", auth.RoleReviewer)
	mustCreateUser(t, s, "u-a", "ana@example.org", auth.RoleCandidate)
	mustCreateUser(t, s, "u-b", "bob@example.org", auth.RoleReviewer, auth.RoleSecretariat)
	panels := []string{"lp_committee"}
	if _, err := s.UpdateUser(ctx, "u-c", auth.UserChanges{Panels: &panels, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    auth.UserFilter
		want []string
	}{
		{"all in email order", auth.UserFilter{}, []string{"u-a", "u-b", "u-c"}},
		{"limit", auth.UserFilter{Limit: 2}, []string{"u-a", "u-b"}},
		{"after", auth.UserFilter{After: "bob@example.org"}, []string{"u-c"}},
		{"role", auth.UserFilter{Role: auth.RoleReviewer}, []string{"u-b", "u-c"}},
		{"panel", auth.UserFilter{Panel: "lp_committee"}, []string{"u-c"}},
		{"none", auth.UserFilter{Role: auth.RoleAdmin}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := s.ListUsers(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Fatalf("ListUsers = %v, want %v", ids, tt.want)
			}
		})
	}
	for role, want := range map[auth.Role]bool{auth.RoleSecretariat: true, auth.RoleAdmin: false} {
		got, err := s.AnyUserWithRole(ctx, role)
		if err != nil || got != want {
			t.Fatalf("AnyUserWithRole(%s) = %v, %v; want %v", role, got, err, want)
		}
	}
}

func TestRefreshTokens(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	rt := &auth.RefreshToken{Hash: "h1", Family: "s-1", UserID: "u-1", FamilyStartedAt: t0, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	got, err := s.RefreshTokenByHash(ctx, "h1")
	if err != nil || got.Family != "s-1" || got.UserID != "u-1" || !got.ExpiresAt.Equal(rt.ExpiresAt) || !got.FamilyStartedAt.Equal(t0) {
		t.Fatalf("RefreshTokenByHash = %+v, %v", got, err)
	}
	_, err = s.RefreshTokenByHash(ctx, "h2")
	wantCode(t, err, nomination.ENOTFOUND)

	if err := s.SpendRefreshToken(ctx, "h1", t0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.SpendRefreshToken(ctx, "h1", t0), nomination.ECONFLICT)

	revoked, err := s.FamilyRevoked(ctx, "s-1")
	if err != nil || revoked {
		t.Fatalf("FamilyRevoked before = %v, %v", revoked, err)
	}
	for range 2 {
		if err := s.RevokeFamily(ctx, "s-1", "logout", t0); err != nil {
			t.Fatalf("revoke: %v", err)
		}
	}
	if revoked, err = s.FamilyRevoked(ctx, "s-1"); err != nil || !revoked {
		t.Fatalf("FamilyRevoked after = %v, %v", revoked, err)
	}
}

// Concurrent spends of one token: exactly one wins.
func TestSpendRefreshTokenOnce(t *testing.T) {
	s := storetest.NewStore(t).Users()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.SpendRefreshToken(context.Background(), "h", t0) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantCode(t, err, nomination.ECONFLICT)
		}
	}
	if ok != 1 {
		t.Fatalf("%d spends succeeded, want 1", ok)
	}
}

// A mailed link is used up by the insert of its hash: once.
func TestConsumeLinkToken(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	if used, err := s.LinkTokenUsed(ctx, "l1"); err != nil || used {
		t.Fatalf("a fresh link reads as used: %v %v", used, err)
	}
	if err := s.ConsumeLinkToken(ctx, "l1", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if used, err := s.LinkTokenUsed(ctx, "l1"); err != nil || !used {
		t.Fatalf("a used link reads as unused: %v %v", used, err)
	}
	wantCode(t, s.ConsumeLinkToken(ctx, "l1", t0, t0.Add(time.Hour)), nomination.ECONFLICT)
	if err := s.ConsumeLinkToken(ctx, "l2", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestAttempts(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	for i := range 5 {
		if err := s.AddAttempt(ctx, auth.Attempt{ID: fmt.Sprintf("a-%d", i), Key: "account:ana", At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAttempt(ctx, auth.Attempt{ID: "b-1", Key: "account:bob", At: t0}); err != nil {
		t.Fatal(err)
	}
	times, err := s.Attempts(ctx, "account:ana", t0.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 3 || !times[0].Equal(t0.Add(2*time.Minute)) || !times[2].Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("attempts after t0+1m = %v", times)
	}
	if times, _ := s.Attempts(ctx, "account:ana", t0.Add(-time.Hour), 2); len(times) != 2 || !times[0].Equal(t0) {
		t.Fatalf("limited attempts = %v", times)
	}
	if err := s.RemoveAttempt(ctx, "a-4"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAttempt(ctx, "a-4"); err != nil {
		t.Fatalf("removing a missing attempt: %v", err)
	}
	if times, _ := s.Attempts(ctx, "account:ana", t0.Add(-time.Hour), 100); len(times) != 4 {
		t.Fatalf("after removal: %v", times)
	}
}

func TestDeleteExpired(t *testing.T) {
	s := storetest.NewStore(t).Users()
	ctx := context.Background()
	_ = s.AddAttempt(ctx, auth.Attempt{ID: "old", Key: "k", At: t0})
	_ = s.AddAttempt(ctx, auth.Attempt{ID: "new", Key: "k", At: t0.Add(2 * time.Hour)})
	_ = s.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: "expired", Family: "f", UserID: "u", ExpiresAt: t0})
	_ = s.SpendRefreshToken(ctx, "expired", t0)
	_ = s.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: "live", Family: "f", UserID: "u", ExpiresAt: t0.Add(48 * time.Hour)})
	_ = s.SpendRefreshToken(ctx, "live", t0)
	_ = s.ConsumeLinkToken(ctx, "l-expired", t0, t0)
	_ = s.ConsumeLinkToken(ctx, "l-live", t0, t0.Add(48*time.Hour))
	n, err := s.DeleteExpired(ctx, t0.Add(time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("deleted %d, want 4 (old attempt, expired token and its spend, expired link's use)", n)
	}
	// A link used and still valid stays used.
	wantCode(t, s.ConsumeLinkToken(ctx, "l-live", t0, t0.Add(48*time.Hour)), nomination.ECONFLICT)
	if _, err := s.RefreshTokenByHash(ctx, "live"); err != nil {
		t.Fatalf("live token deleted: %v", err)
	}
	wantCode(t, s.SpendRefreshToken(ctx, "live", t0), nomination.ECONFLICT)
	if times, _ := s.Attempts(ctx, "k", t0.Add(-time.Hour), 10); len(times) != 1 {
		t.Fatalf("attempts left: %v", times)
	}
}

// finds records the filter of every find the client sends to a collection.
type finds struct {
	mu      sync.Mutex
	filters map[string][]bson.Raw
}

func (f *finds) of(coll string) []bson.Raw {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bson.Raw(nil), f.filters[coll]...)
}

// watchedDatabase opens a client of its own to the shared store (a second
// instance) that records the filter of every find it sends.
func watchedDatabase(t *testing.T, name string) (*mongo.Database, *finds) {
	t.Helper()
	f := &finds{filters: map[string][]bson.Raw{}}
	opts := options.Client().ApplyURI(storetest.URI(t)).SetMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName != "find" {
				return
			}
			coll, _ := e.Command.Lookup("find").StringValueOK()
			filter, _ := e.Command.Lookup("filter").DocumentOK()
			f.mu.Lock()
			f.filters[coll] = append(f.filters[coll], append(bson.Raw(nil), filter...))
			f.mu.Unlock()
		},
	})
	c, err := mongo.Connect(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(name), f
}

// UpdateUser finds the account by its _id (through the user id's entry),
// never by a filter on uid, which scans the accounts on the embedded
// store; when the entry is missing it still finds the account, by uid,
// and makes the entry again so the next change goes by _id.
func TestUpdateUserLooksUpByID(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := context.Background()
	mustCreateUser(t, st.Users(), "u-1", "ana@example.org", auth.RoleCandidate)
	db, f := watchedDatabase(t, st.DB().Name())
	users := mongostore.New(db, nil).Users()
	byUID := func() int {
		n := 0
		for _, filter := range f.of("users") {
			if _, err := filter.LookupErr("uid"); err == nil {
				n++
			}
		}
		return n
	}
	org := "ISOC"
	got, err := users.UpdateUser(ctx, "u-1", auth.UserChanges{Organization: &org, UpdatedAt: t0.Add(time.Hour)})
	if err != nil || got.Organization != org {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if n, all := byUID(), len(f.of("users")); n != 0 || all == 0 {
		t.Fatalf("%d of %d finds of users by uid, want none", n, all)
	}
	// The id's entry is lost (a crash after the account's insert).
	if _, err := st.DB().Collection("user_ids").DeleteOne(ctx, bson.D{{Key: "_id", Value: "u-1"}}); err != nil {
		t.Fatal(err)
	}
	org2 := "W3C"
	if got, err = users.UpdateUser(ctx, "u-1", auth.UserChanges{Organization: &org2, UpdatedAt: t0.Add(2 * time.Hour)}); err != nil || got.Organization != org2 {
		t.Fatalf("update without the id's entry: %+v, %v", got, err)
	}
	if n := byUID(); n != 1 {
		t.Fatalf("%d finds by uid without the id's entry, want 1", n)
	}
	name := "Ana"
	if got, err = users.UpdateUser(ctx, "u-1", auth.UserChanges{Name: &name, UpdatedAt: t0.Add(3 * time.Hour)}); err != nil || got.Name != name || got.Organization != org2 {
		t.Fatalf("update after the entry was made again: %+v, %v", got, err)
	}
	if n := byUID(); n != 1 {
		t.Fatalf("%d finds by uid after the entry was made again, want still 1", n)
	}
	if again, err := st.Users().UserByID(ctx, "u-1"); err != nil || again.Name != name || again.Organization != org2 {
		t.Fatalf("read back: %+v, %v", again, err)
	}
	_, err = users.UpdateUser(ctx, "u-9", auth.UserChanges{Organization: &org})
	wantCode(t, err, nomination.ENOTFOUND)
}
