package mongostore_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore"
)

// One read of a document by _id from the embedded store, through the
// service's own unix socket and through the TLS listener other instances
// use (client certificate, one pooled connection kept open).
func BenchmarkIDRead(b *testing.B) {
	for _, transport := range []string{"socket", "tls"} {
		b.Run(transport, func(b *testing.B) {
			ctx := context.Background()
			opts := mongostore.Options{DataDir: b.TempDir(), Logger: quietLogger()}
			if transport == "tls" {
				opts.EmbeddedListen = "127.0.0.1:0"
			}
			owner, err := mongostore.Connect(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer owner.Close(ctx)
			c := owner
			if transport == "tls" {
				if c, err = mongostore.Connect(ctx, mongostore.Options{URI: owner.EmbeddedRemoteURI(), Logger: quietLogger()}); err != nil {
					b.Fatal(err)
				}
				defer c.Close(ctx)
			}
			coll := c.Database("nomina").Collection("nominations")
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "n000001"}, {Key: "state", Value: "draft"}}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				var d bson.M
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "n000001"}}).Decode(&d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
