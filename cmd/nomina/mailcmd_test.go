package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestMailPreview(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"review request", []string{"mail", "preview", "mag", "review_request", "--dir", "../../workflows"}, 0, "Subject: "},
		// The links lead to the pages the real message leads to.
		{"reviewer's page", []string{"mail", "preview", "mag", "review_request", "--dir", "../../workflows"}, 0, "https://nomina.example.org/review/n-sample"},
		{"secretariat's page", []string{"mail", "preview", "mag", "new_submission", "--dir", "../../workflows"}, 0, "https://nomina.example.org/secretariat/nominations/n-sample"},
		{"candidate's page", []string{"mail", "preview", "mag", "nomination_submitted", "--dir", "../../workflows"}, 0, "https://nomina.example.org/nominations/n-sample"},
		{"consent page", []string{"mail", "preview", "mag", "nominee_consent", "--dir", "../../workflows"}, 0, "https://nomina.example.org/consent/SAMPLE-TOKEN"},
		{"endorsement page", []string{"mail", "preview", "mag", "endorsement_request", "--dir", "../../workflows"}, 0, "https://nomina.example.org/endorse/SAMPLE-TOKEN"},
		{"with html", []string{"mail", "preview", "leadership-panel", "nomination_submitted", "--dir", "../../workflows", "--html"}, 0, "--- HTML ---"},
		{"unknown template", []string{"mail", "preview", "mag", "nope", "--dir", "../../workflows"}, 2, "sends no template"},
		{"unknown workflow", []string{"mail", "preview", "nope", "review_request", "--dir", "../../workflows"}, 2, "no workflow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			e := env{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
			code := runEnv(context.Background(), tc.args, e)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Fatalf("exit %d, output %q %q", code, out.String(), errb.String())
			}
		})
	}
	_ = io.Discard
}
