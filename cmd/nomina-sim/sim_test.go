package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/igf/nomina/internal/mongostore"
	"github.com/igf/nomina/internal/nomination"
)

// testLog writes the simulator's status lines to the test log.
type testLog struct {
	t  *testing.T
	mu sync.Mutex
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The short renewal of CI: about 200 MAG nominations and 20 for the
// Leadership Panel on three instances sharing one store, every fault on
// (an instance killed mid-voting, an SMTP outage, cut to 10 s to keep CI
// short (--outage; 30 s in the full run), 4xx then 5xx for some
// recipients, clients cut off mid-request, skewed clocks), Mailpit as
// the sink when $NOMINA_TEST_MAILPIT names it. Every check must hold; then
// a message delivered twice and a deleted event must each make the
// checker fail and name them.
func TestShortRenewalUnderFaults(t *testing.T) {
	o := defaultOptions()
	o.Instances, o.Candidates, o.LPCandidates, o.Reviewers, o.LPCommittee = 3, 200, 20, 20, 5
	o.Faults, _ = parseFaults("all")
	o.OutageFor = 10 * time.Second
	o.Mailpit = os.Getenv("NOMINA_TEST_MAILPIT")
	o.Progress = "off"
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env, err := newEnvironment(ctx, o, &testLog{t: t})
	if env != nil {
		defer env.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, err := env.Run(ctx)
	var out bytes.Buffer
	if rep != nil {
		rep.writeText(&out)
		t.Log("\n" + out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() {
		t.Fatalf("checks failed: %s", strings.Join(rep.Failed(), "; "))
	}
	if len(rep.Kills) != 1 || len(rep.Outages) != 1 || rep.Mail.Refused == 0 || rep.Cut == 0 {
		t.Fatalf("a fault did not happen: kills %d, outages %d, refusals %d, cut requests %d", len(rep.Kills), len(rep.Outages), rep.Mail.Refused, rep.Cut)
	}

	t.Run("a message delivered twice", func(t *testing.T) {
		recs, err := mongostore.New(env.db, nil).MailQueue().Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sent struct{ ID, MessageID string }
		for _, r := range recs {
			if r.Status == nomination.MailSent && r.Job.Template == "nomination_submitted" {
				sent.ID, sent.MessageID = r.Job.ID, r.MessageID
				break
			}
		}
		if sent.ID == "" {
			t.Fatal("no sent nomination_submitted job")
		}
		mid := strings.Trim(sent.MessageID, "<>")
		if err := env.sink.duplicate(mid); err != nil {
			t.Fatal(err)
		}
		mustFailNaming(t, env, "mail: every sent message delivered exactly once", mid+" delivered 2 times")
	})

	t.Run("an event deleted", func(t *testing.T) {
		// An accepted upload: its event is in the middle of a history.
		_, ledger := env.rec.snapshot()
		var up ledgerEntry
		for _, e := range ledger {
			if e.What == "upload" && e.Outcome == accepted {
				up = e
				break
			}
		}
		if up.Key == "" {
			t.Fatal("no accepted upload in the ledger")
		}
		var ev struct {
			ID  string `bson:"_id"`
			Seq int    `bson:"seq"`
		}
		filter := bson.D{{Key: "nomination", Value: up.Nomination}, {Key: "data", Value: bson.D{{Key: "$regex", Value: up.Key}}}}
		if err := env.db.Collection("events").FindOne(ctx, filter).Decode(&ev); err != nil {
			t.Fatal(err)
		}
		if _, err := env.db.Collection("events").DeleteOne(ctx, bson.D{{Key: "_id", Value: ev.ID}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("deleted event %s", ev.ID)
		mustFailNaming(t, env, "history: seqs without gaps", "nomination "+up.Nomination+": event ")
		mustFailNaming(t, env, "history: every accepted request exactly once", up.Key)
	})
}

// mustFailNaming runs the checks again and fails unless the check named
// (by its start) fails with a message containing detail.
func mustFailNaming(t *testing.T, env *environment, check, detail string) {
	t.Helper()
	checks, err := env.check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !strings.HasPrefix(c.Name, check) {
			continue
		}
		if c.OK {
			t.Fatalf("%q still holds", c.Name)
		}
		for _, f := range c.Faults {
			if strings.Contains(f, detail) {
				t.Logf("%s: %s", c.Name, f)
				return
			}
		}
		t.Fatalf("%q fails without naming %q: %v", c.Name, detail, c.Faults)
	}
	t.Fatalf("no check %q", check)
}

// Flags are read and checked before anything starts.
func TestFlags(t *testing.T) {
	bad := map[string][]string{
		"unknown fault":              {"--faults", "meteor"},
		"kill with one instance":     {"--instances", "1", "--faults", "kill"},
		"panels of different sizes":  {"--reviewers", "30"},
		"too few candidates":         {"--candidates", "5"},
		"an argument":                {"extra"},
		"committee too small":        {"--lp-committee", "2"},
		"progress neither on or off": {"--progress", "sometimes"},
		"a target that is no URL":    {"--targets", "localhost:8080", "--store-uri", "mongodb://localhost"},
		"targets without a store":    {"--targets", "http://127.0.0.1:8080"},
		"targets and the kill":       {"--targets", "http://127.0.0.1:8080,http://127.0.0.1:8081", "--store-uri", "mongodb://localhost", "--faults", "kill"},
	}
	for name, args := range bad {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), args, adminEnv, &bytes.Buffer{}, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; %s", code, stderr.String())
			}
		})
	}
	o, err := parseFlags([]string{"--faults", "kill,skew", "--instances", "2"}, adminEnv, &bytes.Buffer{})
	if err != nil || !o.Faults[faultKill] || !o.Faults[faultSkew] || o.Faults[faultOutage] || o.LPCandidates != 200 || o.AdminEmail != "" {
		t.Fatalf("parsed %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"--targets", "http://127.0.0.1:8080, http://127.0.0.1:8081/", "--store-uri", "mongodb://127.0.0.1", "--faults", "smtp-outage"}, adminEnv, &bytes.Buffer{})
	if err != nil || o.Instances != 2 || o.Targets[1] != "127.0.0.1:8081" || o.AdminEmail != "ops@example.org" {
		t.Fatalf("parsed %+v, %v", o, err)
	}
}

// adminEnv is the environment of a run against running instances: their
// first administrator.
func adminEnv(k string) string {
	return map[string]string{"NOMINA_ADMIN_EMAIL": "ops@example.org", "NOMINA_ADMIN_PASSWORD": "a long passphrase of the operator"}[k]
}
