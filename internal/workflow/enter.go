package workflow

// Enter returns the effects of moving the subject into state at env.Now
// outside the workflow's actions (a secretariat override): the state's
// notifications, review, timers and membership. The state must exist.
func (d *Definition) Enter(s Subject, state string, env Env) *Outcome {
	out := &Outcome{Action: "override", From: s.State, To: state, Actor: SystemActor}
	if _, ok := d.States[state]; !ok {
		return out
	}
	d.enter(out, s, env)
	return out
}
