package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// StoreRates are the store's raw rates, measured in the run on the same
// store, over the same TLS connection the other instances use: what the
// service's requests are compared with. They are measured in a collection
// of the service's database that this version leaves empty (link_tokens),
// because on the embedded store only the collections the service prepares
// at start have the index that makes a lookup by _id cheap; the documents
// are removed afterwards.
type StoreRates struct {
	Clients       int     `json:"clients"`
	Ops           int     `json:"ops"`
	InsertsPerSec float64 `json:"inserts_per_sec"`
	InsertP50Ms   float64 `json:"insert_p50_ms"`
	ReadsPerSec   float64 `json:"id_reads_per_sec"`
	ReadP50Ms     float64 `json:"id_read_p50_ms"`
	// SerialInsertMs and SerialReadMs are one client's median, alone.
	SerialInsertMs float64 `json:"serial_insert_ms"`
	SerialReadMs   float64 `json:"serial_id_read_ms"`
}

// measureStore inserts ops small documents with unique _ids from clients
// goroutines, then reads them back by _id the same way, and does both
// with one client for the latency alone.
func measureStore(ctx context.Context, db *mongo.Database, clients, ops int) (StoreRates, error) {
	coll := db.Collection("link_tokens")
	defer coll.DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "sim_bench", Value: true}})
	doc := func(i int) bson.D {
		return bson.D{{Key: "_id", Value: fmt.Sprintf("simbench-%08d/%06d", i, 1)}, {Key: "sim_bench", Value: true}, {Key: "type", Value: "vote"},
			{Key: "data", Value: `{"decision":"approve","comment":"a comment of the usual length"}`}, {Key: "at", Value: time.Now()}}
	}
	r := StoreRates{Clients: clients, Ops: ops}
	run := func(n, workers int, op func(i int) error) (float64, float64, error) {
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					t := time.Now()
					if err := op(i); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					lat[i] = time.Since(t)
				}
			})
		}
		wg.Wait()
		el := time.Since(start)
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		return float64(n) / el.Seconds(), float64(lat[n/2].Microseconds()) / 1000, firstErr
	}
	var err error
	insert := func(i int) error { _, err := coll.InsertOne(ctx, doc(i)); return err }
	read := func(i int) error {
		return coll.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("simbench-%08d/%06d", i%ops, 1)}}).Err()
	}
	if r.InsertsPerSec, r.InsertP50Ms, err = run(ops, clients, insert); err != nil {
		return r, err
	}
	if r.ReadsPerSec, r.ReadP50Ms, err = run(ops, clients, read); err != nil {
		return r, err
	}
	serial := min(ops, 500)
	if _, r.SerialInsertMs, err = run(serial, 1, func(i int) error { return insert(ops + i) }); err != nil {
		return r, err
	}
	if _, r.SerialReadMs, err = run(serial, 1, read); err != nil {
		return r, err
	}
	return r, nil
}
