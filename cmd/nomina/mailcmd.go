package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/igf/nomina/internal/nomination"
	"github.com/igf/nomina/internal/workflow"
)

// newMailCmd returns `nomina mail`, with `preview`, which renders a
// workflow's message with sample data.
func newMailCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "mail", Short: "Work with mail templates"}
	var dir string
	var html bool
	preview := &cobra.Command{
		Use:   "preview WORKFLOW TEMPLATE",
		Short: "Render a workflow's mail template with sample data",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				dir = e.getenv("NOMINA_WORKFLOWS_DIR")
			}
			if dir == "" {
				dir = "workflows"
			}
			reg, err := loadWorkflows(dir, e)
			if err != nil {
				return err
			}
			def, ok := reg.Latest(args[0])
			if !ok {
				return &exitError{code: 2, err: fmt.Errorf("no workflow %q in %s", args[0], dir)}
			}
			if used := templatesOf(def); !slices.Contains(used, args[1]) {
				return &exitError{code: 2, err: fmt.Errorf("workflow %s sends no template %q; it sends: %v", def.ID, args[1], used)}
			}
			wf, _ := workflowFilesOf(dir)
			tpls, err := loadMailTemplates(wf)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			msg, err := tpls.Preview(args[1], previewLinks(def, args[1]))
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(e.stdout, "Subject: %s\n\n%s", msg.Subject, msg.Text)
			if html {
				fmt.Fprintf(e.stdout, "\n--- HTML ---\n%s", msg.HTML)
			}
			return nil
		},
	}
	preview.Flags().StringVar(&dir, "dir", "", "the workflows directory (default: $NOMINA_WORKFLOWS_DIR or workflows)")
	preview.Flags().BoolVar(&html, "html", false, "print the HTML part as well")
	cmd.AddCommand(preview)
	return cmd
}

// templatesOf lists the templates a workflow's states, actions and timers
// send, sorted.
func templatesOf(def *workflow.Definition) []string {
	seen := map[string]bool{}
	for _, st := range def.States {
		for _, n := range st.OnEnter {
			seen[n.Template] = true
		}
		for _, t := range st.Timers {
			if t.Template != "" {
				seen[t.Template] = true
			}
		}
	}
	for _, a := range def.Actions {
		for _, n := range a.Notify {
			seen[n.Template] = true
		}
	}
	// Messages the service sends on its own for every workflow.
	for _, t := range []string{"nominee_consent", "endorsement_request"} {
		seen[t] = true
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// previewToken stands for the signed token of a sealed link in a preview.
const previewToken = "SAMPLE-TOKEN"

// previewLinks returns the paths the links of template lead to, as in a
// real message of def: the pages of the nomination for the template's
// audience, and the consent and endorsement pages of the sealed links.
func previewLinks(def *workflow.Definition, template string) map[string]string {
	links := nomination.PageLinks("n-sample", audienceOf(def, template))
	links["consent"] = nomination.ConsentPagePath + previewToken
	links["endorse"] = nomination.EndorsePagePath + previewToken
	return links
}

// audienceOf returns who def sends template to (the first audience
// found), as the nomination service addresses it.
func audienceOf(def *workflow.Definition, template string) string {
	switch template {
	case "nominee_consent":
		return workflow.AudienceNominee
	case "endorsement_request":
		return workflow.AudienceEndorser
	}
	var notes []workflow.Notify
	for _, st := range def.States {
		notes = append(notes, st.OnEnter...)
		for _, t := range st.Timers {
			notes = append(notes, workflow.Notify{Audience: t.Audience, Template: t.Template})
		}
	}
	for _, a := range def.Actions {
		notes = append(notes, a.Notify...)
	}
	for _, n := range notes {
		if n.Template == template {
			return n.Audience
		}
	}
	return ""
}
