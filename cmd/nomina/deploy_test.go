package main

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// compose is the part of docker-compose.yml these checks read.
type compose struct {
	Services map[string]struct {
		Ports       []string          `yaml:"ports"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// Finding 13 of the security review: docker-compose.yml published MongoDB
// (without authentication) and Mailpit on every interface of the host.
// Now only Nomina's port is published, other ports at most on loopback;
// the replica set runs with a keyfile and users; every password comes
// from the environment; and Nomina's URI carries its credentials.
func TestComposeFileKeepsTheStoreAndMailPrivate(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, svc := range c.Services {
		for _, p := range svc.Ports {
			if name != "nomina" && !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond this machine", name, p)
			}
		}
		for k, v := range svc.Environment {
			if strings.Contains(k, "PASSWORD") && !strings.HasPrefix(v, "${") {
				t.Errorf("service %s: %s is written in the file, not taken from the environment", name, k)
			}
		}
	}
	mongo, ok := c.Services["mongo"]
	if !ok {
		t.Fatal("no mongo service")
	}
	if len(mongo.Ports) != 0 {
		t.Errorf("MongoDB publishes %v", mongo.Ports)
	}
	if !strings.Contains(strings.Join(mongo.Command, " "), "--keyFile") {
		t.Errorf("the replica set runs without a keyfile: %v", mongo.Command)
	}
	if mongo.Environment["MONGO_INITDB_ROOT_USERNAME"] == "" || mongo.Environment["MONGO_INITDB_ROOT_PASSWORD"] == "" {
		t.Error("MongoDB creates no root user at initiation")
	}
	uri := c.Services["nomina"].Environment["NOMINA_MONGODB_URI"]
	if !strings.Contains(uri, ":${NOMINA_DB_PASSWORD") || !strings.Contains(uri, "@mongo:") {
		t.Errorf("Nomina's store URI carries no credentials from the environment: %s", uri)
	}
}

// Finding 13 of the security review: the image ran as a non-root user
// while /app/data did not exist in it, so a volume mounted there was
// root's. The image creates it, owned by the user the service runs as.
func TestImageOwnsItsDataDirectory(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var user, dataDir string
	owners := map[string]string{} // destination -> --chown owner, in the final stage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			user, owners = "", map[string]string{}
		case "USER":
			user = fields[1]
		case "ENV":
			for _, kv := range fields[1:] {
				if v, ok := strings.CutPrefix(kv, "NOMINA_DATA_DIR="); ok {
					dataDir = v
				}
			}
		case "COPY":
			owner := ""
			for _, a := range fields[1 : len(fields)-1] {
				if v, ok := strings.CutPrefix(a, "--chown="); ok {
					owner = v
				}
			}
			owners[fields[len(fields)-1]] = owner
		}
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Fatalf("the service runs as %q", user)
	}
	if dataDir == "" {
		t.Fatal("the image sets no NOMINA_DATA_DIR")
	}
	if got := owners[dataDir]; got != user {
		t.Fatalf("%s in the image is owned by %q, the service runs as %q", dataDir, got, user)
	}
}
