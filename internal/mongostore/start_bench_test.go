package mongostore_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore"
)

// Time from starting the embedded store to ready (connected, pinged,
// collections and indexes ensured, as the service prepares it), on an empty data directory and on one holding 100,000
// nominations' worth of documents.
func BenchmarkEmbeddedStart(b *testing.B) {
	for _, docs := range []int{0, 100000} {
		b.Run(fmt.Sprintf("docs=%d", docs), func(b *testing.B) {
			dir := b.TempDir()
			ctx := context.Background()
			if docs > 0 {
				c, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				coll := c.Database("nomina").Collection("nominations")
				batch := make([]any, 0, 500)
				for i := 0; i < docs; i++ {
					batch = append(batch, bson.D{{Key: "_id", Value: fmt.Sprintf("n%06d", i)}, {Key: "state", Value: "draft"},
						{Key: "body", Value: `{"fields":{"motivation":"` + fmt.Sprint(i) + `"}}`}})
					if len(batch) == cap(batch) {
						if _, err := coll.InsertMany(ctx, batch); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
				// The first start after the data grew builds the indexes,
				// once; what is measured is every start after it.
				if err := c.Prepare(ctx, "nomina"); err != nil {
					b.Fatal(err)
				}
				_ = c.Close(ctx)
			}
			for b.Loop() {
				c, err := mongostore.Connect(ctx, mongostore.Options{DataDir: dir, Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Ping(ctx); err != nil {
					b.Fatal(err)
				}
				if err := c.Prepare(ctx, "nomina"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = c.Close(ctx)
				b.StartTimer()
			}
		})
	}
}
