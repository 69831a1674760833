package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func runKeys(t *testing.T, vals map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vals["NOMINA_WORKFLOWS_DIR"] = "../../workflows"
	e := env{getenv: func(k string) string { return vals[k] }, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := runEnv(context.Background(), append([]string{"keys"}, append(args, "--config", "../../config/nomina.yaml")...), e)
	return code, stdout.String(), stderr.String()
}

// `nomina keys rotate` stores a new generation that signs two minutes
// later; `keys list` shows every generation and never a secret; without
// the key-encryption key nothing is rotated.
func TestKeysRotateAndList(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, map[string]string{"NOMINA_DATA_DIR": dir})
	waitReady(t, s, 30*time.Second)
	s.cancel()
	if _, ok := s.exited(30 * time.Second); !ok {
		t.Fatal("the service did not stop")
	}
	vals := map[string]string{"NOMINA_DATA_DIR": dir}
	code, out, errOut := runKeys(t, vals, "list")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "jwt/000001") || !strings.Contains(out, "links/000001") {
		t.Fatalf("list: %d\n%s%s", code, out, errOut)
	}
	before := time.Now()
	code, out, errOut = runKeys(t, vals, "rotate", "jwt")
	if code != 0 || !strings.Contains(out, "jwt generation 2 stored") {
		t.Fatalf("rotate: %d\n%s%s", code, out, errOut)
	}
	signsFrom, err := time.Parse(time.RFC3339, strings.TrimSpace(out[strings.LastIndex(out, "from ")+5:]))
	if err != nil || signsFrom.Before(before.Add(2*secretsRefresh-time.Second)) {
		t.Fatalf("the new key signs from %v (%v), want two refreshes after it was stored", signsFrom, err)
	}
	_, out, _ = runKeys(t, vals, "list")
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, "jwt/000002") {
		t.Fatalf("list after rotation:\n%s", out)
	}
	code, _, errOut = runKeys(t, map[string]string{"NOMINA_DATA_DIR": dir, "NOMINA_SECRETS_KEY_FILE": dir + "/missing.key"}, "rotate")
	if code != 1 || !strings.Contains(errOut, "NOMINA_SECRETS_KEY_FILE") {
		t.Fatalf("rotate without the key: %d %s", code, errOut)
	}
	if code, _, _ := runKeys(t, vals, "rotate", "everything"); code != 2 {
		t.Fatalf("an unknown kind: exit %d, want 2", code)
	}
}
