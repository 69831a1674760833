package mongostore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/mongostore/storetest"
	"github.com/igf/nomina/internal/nomination"
)

// The secretariat's filtered, sorted first page of a call's list, asked
// of a second instance that reaches the embedded store through its URI:
// reading the store's file (as it now does) and through the driver alone
// (as it did), with 1,000 and 10,000 nominations stored.
//
//	go test -run '^$' -bench SecondInstanceList -benchtime 20x ./internal/mongostore/
func BenchmarkSecondInstanceList(b *testing.B) {
	for _, count := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", count), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.NewDatabase(b)
			seedCallIn(b, storetest.Store(b, db, nil).Nominations(), count)
			other, err := mongostore.Connect(ctx, mongostore.Options{URI: storetest.URI(b), Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer other.Close(ctx)
			staff := nomination.Actor{UserID: "s", Roles: []string{"secretariat"}}
			table := nomination.ListQuery{Call: "mag-2027", State: "submitted", Sort: "name",
				Fields: map[string]string{"stakeholder_group": "civil_society"}}
			for name, st := range map[string]*mongostore.Store{
				"file":   other.NewStore(db.Name(), quietLogger()),
				"driver": mongostore.New(other.Database(db.Name()), quietLogger()),
			} {
				svc := listService(b, st.Nominations())
				b.Run(name, func(b *testing.B) {
					medianLoop(b, func() {
						p, err := svc.List(ctx, staff, table)
						if err != nil {
							b.Fatal(err)
						}
						if len(p.Items) == 0 {
							b.Fatal("empty page")
						}
					})
				})
			}
		})
	}
}
