package export

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/igf/nomina/internal/nomination"
)

// Suggestion is a proposed shortlist: the seats nominations with the
// highest total mean score that meet the call's targets, or, when no choice
// meets them all, the choice that misses them by the fewest seats.
type Suggestion struct {
	Seats int `json:"seats"`
	// Picks are the chosen nominations, best score first.
	Picks      []Candidate `json:"picks"`
	TotalScore float64     `json:"total_score"`
	// Feasible is true when the picks meet every target.
	Feasible bool `json:"feasible"`
	// Optimal is true when the picks are proven best; false only when
	// the search stopped at its node limit with the best choice found.
	Optimal bool `json:"optimal"`
	// Shortfall is how many seats, in total, the picks miss the targets
	// by (0 when Feasible).
	Shortfall int `json:"shortfall"`
	// Unmet lists the targets that cannot be met, as the picks miss them.
	Unmet []Finding `json:"unmet"`
	// Binding lists the targets that hold the score down: met exactly,
	// and allowing one more seat would raise the total score by Gain.
	Binding []Finding `json:"binding"`
	// Report is the balance of the picks.
	Report Report `json:"report"`
}

// maxSearchNodes bounds the branch and bound. Realistic calls (hundreds of
// candidates, about 40 seats) need far fewer nodes; the bound only keeps a
// pathological input from running without end when the caller's context
// has no deadline.
const maxSearchNodes = 100_000

// Suggest chooses exactly seats of the candidates maximising the total
// score subject to targets. When no choice meets every target it returns
// the choice with the smallest total shortfall (seats under minimums, over
// limits and beyond spreads, added up) and, among those, the highest score,
// and lists the targets that cannot be met. Ties between equal scores go to
// the smaller ID, so the answer does not depend on the candidates' order.
//
// # Method
//
// Only the fields the targets name matter to the constraints, so candidates
// with the same values of those fields (stakeholder group × region × gender
// is at most 5 × 5 × 4 = 100 classes) are interchangeable except for their
// score, and an optimal choice takes the best-scored members of each class
// first. The problem becomes choosing a count x_c per class: maximise the
// sum over classes of the best x_c scores, with sum x_c = seats and each
// target a linear inequality over the counts.
//
// That integer program is solved exactly by branch and bound over the class
// counts. Each node bounds its counts (lo_c ≤ x_c ≤ hi_c) and takes as its
// upper bound the linear-programming relaxation, solved by the simplex
// method in lp.go: one variable in [0, 1] per candidate, which the LP fills
// best-first within each class because scores are sorted, so the relaxation
// is exactly "fractional class counts". Targets enter as elastic rows whose
// violation costs W per seat, with W larger than any possible score
// difference (seats × score range + 1); maximising score − W × shortfall
// is then the same as minimising the shortfall first and maximising the
// score second, and the LP is never infeasible. A node whose LP optimum has
// whole class counts is solved; otherwise it branches on the most
// fractional class (x_c ≤ ⌊v⌋ or x_c ≥ ⌈v⌉), depth first, and prunes every
// node whose bound cannot beat the best choice so far. Three things keep
// the tree small: every node's relaxation is rounded to a full choice
// (greedily, and at the root improved by exchanging seats between classes),
// which supplies good incumbents early; the simplex's reduced costs show
// which candidates no better choice can take or leave, and the node's box
// is narrowed accordingly before it branches (reduced-cost fixing); and
// classes never offer more members than there are seats. For 500
// candidates and 40 seats under the MAG targets this takes milliseconds
// (see BenchmarkSuggest).
//
// Binding targets are found by solving again with each exactly-met target
// relaxed by one seat, starting from the current picks.
//
// It returns an EINVALID *nomination.Error for invalid targets, a
// non-positive seat count or a score that is not a finite number, and
// ctx.Err() when ctx ends first.
func Suggest(ctx context.Context, candidates []Candidate, seats int, targets Targets) (Suggestion, error) {
	if err := targets.Validate(); err != nil {
		return Suggestion{}, err
	}
	if seats <= 0 {
		return Suggestion{}, invalidSeats()
	}
	for i, c := range candidates {
		if math.IsNaN(c.Score) || math.IsInf(c.Score, 0) {
			return Suggestion{}, nomination.Invalid(nomination.Problem(fmt.Sprintf("candidates[%d].score", i), "FiniteNumber", "must be a finite number"))
		}
	}
	cands := slices.Clone(candidates)
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	m := compile(targets, seats)

	if len(cands) <= seats {
		// Nothing to choose: every candidate is needed.
		return finish(m, cands, seats, cands, true)
	}

	s := newSearch(ctx, m, cands, seats)
	if err := s.run(); err != nil {
		return Suggestion{}, err
	}
	picks := s.picks(s.best)
	sug, err := finish(m, cands, seats, picks, !s.exhausted)
	if err != nil || !sug.Feasible {
		return sug, err
	}
	sug.Binding, err = s.binding()
	return sug, err
}

// finish builds the suggestion for picks: report, feasibility and the
// unmet targets with what makes them impossible.
func finish(m *compiled, all []Candidate, seats int, picks []Candidate, optimal bool) (Suggestion, error) {
	rep, err := ComputeBalance(picks, seats, m.t)
	if err != nil {
		return Suggestion{}, err
	}
	sug := Suggestion{Seats: seats, Picks: picks, TotalScore: rep.TotalScore, Optimal: optimal, Report: rep, Unmet: []Finding{}, Binding: []Finding{}}
	if sug.Picks == nil {
		sug.Picks = []Candidate{}
	}
	if len(rep.Broken) == 0 {
		sug.Feasible = true
		return sug, nil
	}
	available := make(map[groupKey]int)
	for _, c := range all {
		for _, k := range m.groups {
			if c.Fields[k.field] == k.value {
				available[k]++
			}
		}
	}
	for _, f := range rep.Broken {
		switch f.Kind {
		case "seats":
			f.Message = fmt.Sprintf("Only %d nominations are available for %d seats.", len(all), seats)
		case "min":
			k := groupKey{f.Field, f.Values[0]}
			if n := available[k]; n < f.Limit {
				f.Message += fmt.Sprintf(" Only %d of the nominations are from %s.", n, m.t.valueLabel(k.field, k.value))
			}
		case "max":
			k := groupKey{f.Field, f.Values[0]}
			if others := len(all) - available[k]; others < seats-f.Limit {
				f.Message += fmt.Sprintf(" Only %d of the nominations are not from %s.", others, m.t.valueLabel(k.field, k.value))
			}
		}
		sug.Shortfall += f.Off
		sug.Unmet = append(sug.Unmet, f)
	}
	return sug, nil
}

// class is a set of candidates alike in every field the targets name.
type class struct {
	members []int     // candidate indexes, best score first
	prefix  []float64 // prefix[k] is the total score of the best k members
	groups  []int     // the target groups the class belongs to
}

// search is one branch and bound run.
type search struct {
	ctx     context.Context
	m       *compiled
	cands   []Candidate
	classes []class
	seats   int
	w       float64 // the cost of one seat of shortfall

	best      []int // incumbent class counts
	bestViol  int
	bestScore float64
	found     bool
	nodes     int
	exhausted bool
	// noHeuristic and noFixing turn off the first incumbent (the rounding
	// of the root) and the reduced-cost fixing; tests use them to check
	// each part of the search on its own (with a good first incumbent, a
	// fault in the rest could hide).
	noHeuristic, noFixing bool

	// Row layout of the relaxation, the same at every node.
	rows      int
	groupRows [][]int // rows in which a candidate of group g counts
	p         lp
	sx        simplex
	colClass  []int // class of each candidate column of the relaxation
	colRank   []int // rank within its class of each candidate column
	counts    []int
}

func newSearch(ctx context.Context, m *compiled, cands []Candidate, seats int) *search {
	s := &search{ctx: ctx, m: m, cands: cands, seats: seats}
	byKey := map[string]int{}
	var key strings.Builder
	for i, c := range cands {
		key.Reset()
		for _, f := range m.rs.fields {
			key.WriteString(c.Fields[f])
			key.WriteByte(0)
		}
		k, ok := byKey[key.String()]
		if !ok {
			k = len(s.classes)
			byKey[key.String()] = k
			var groups []int
			for g, gk := range m.groups {
				if c.Fields[gk.field] == gk.value {
					groups = append(groups, g)
				}
			}
			s.classes = append(s.classes, class{groups: groups})
		}
		cl := &s.classes[k]
		// A class never gives more than seats members, so the rest are
		// left out of the search altogether.
		if len(cl.members) < seats {
			cl.members = append(cl.members, i)
		}
	}
	for k := range s.classes {
		cl := &s.classes[k]
		cl.prefix = make([]float64, len(cl.members)+1)
		for r, i := range cl.members {
			cl.prefix[r+1] = cl.prefix[r] + cands[i].Score
		}
	}
	lo, hi := cands[len(cands)-1].Score, cands[0].Score
	s.w = float64(seats)*(hi-lo) + 1

	s.groupRows = make([][]int, len(m.groups))
	s.rows = 1 + len(m.rs.bounds)
	for k := range m.rs.bounds {
		g := m.bGroup[k]
		s.groupRows[g] = append(s.groupRows[g], 1+k)
	}
	for i := range m.rs.spreads {
		for _, g := range m.sGroups[i] {
			s.groupRows[g] = append(s.groupRows[g], s.rows, s.rows+1)
			s.rows += 2
		}
		s.rows++ // the gap row
	}
	s.counts = make([]int, len(m.groups))
	return s
}

// node is a box of class counts: lo[c] ≤ x_c ≤ hi[c].
type node struct{ lo, hi []int }

// run searches the whole tree and leaves the best counts in s.best.
func (s *search) run() error {
	root := node{lo: make([]int, len(s.classes)), hi: make([]int, len(s.classes))}
	for c := range s.classes {
		root.hi[c] = len(s.classes[c].members)
	}
	stack := []node{root}
	for len(stack) > 0 {
		if s.nodes%64 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		if s.nodes >= maxSearchNodes {
			s.exhausted = true
			break
		}
		s.nodes++
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]

		fixed, room, empty := 0, 0, false
		for c := range s.classes {
			fixed += nd.lo[c]
			room += nd.hi[c] - nd.lo[c]
			empty = empty || nd.lo[c] > nd.hi[c]
		}
		left := s.seats - fixed
		if empty || left < 0 || room < left {
			continue // no choice of exactly seats in this box
		}
		if left == 0 {
			s.consider(nd.lo)
			continue
		}
		x, bound, err := s.relax(nd, left)
		if err != nil {
			// The relaxation failed numerically: without a bound the node
			// cannot be pruned, so split it in two and go on exactly.
			for c := range s.classes {
				if nd.hi[c] > nd.lo[c] {
					mid := (nd.lo[c] + nd.hi[c]) / 2
					stack = append(stack, split(nd, c, mid, true), split(nd, c, mid+1, false))
					break
				}
			}
			continue
		}
		if s.found && bound <= s.incumbent()+s.tolerance() {
			continue
		}
		if !s.noHeuristic || s.nodes > 1 {
			s.heuristic(x, nd, s.nodes == 1)
			if bound <= s.incumbent()+s.tolerance() {
				continue // the rounding already reached the bound
			}
		}
		if tight, changed := s.fixByReducedCost(nd, bound); changed && !s.noFixing {
			stack = append(stack, tight) // solve the smaller box again
			continue
		}
		branch, frac := -1, 0.0
		for c, v := range x {
			f := v - math.Floor(v)
			if d := math.Min(f, 1-f); d > 1e-6 && d > frac {
				branch, frac = c, d
			}
		}
		if branch < 0 {
			counts := make([]int, len(x))
			for c, v := range x {
				counts[c] = int(math.Round(v))
			}
			s.consider(counts)
			continue
		}
		v := x[branch]
		down := split(nd, branch, int(math.Floor(v)), true)
		up := split(nd, branch, int(math.Ceil(v)), false)
		// Depth first, the side nearer the relaxation first.
		if v-math.Floor(v) >= 0.5 {
			stack = append(stack, down, up)
		} else {
			stack = append(stack, up, down)
		}
	}
	if !s.found {
		return fmt.Errorf("suggest: no choice of %d seats found", s.seats)
	}
	return nil
}

// split returns a copy of nd with x_c ≤ v (atMost) or x_c ≥ v.
func split(nd node, c, v int, atMost bool) node {
	out := node{lo: slices.Clone(nd.lo), hi: slices.Clone(nd.hi)}
	if atMost {
		out.hi[c] = v
	} else {
		out.lo[c] = v
	}
	return out
}

// tolerance is how much a bound must beat the incumbent by to be worth
// exploring: differences below it are rounding, not a better shortlist.
func (s *search) tolerance() float64 { return 1e-9 * math.Max(1, math.Abs(s.incumbent())) }

// fixByReducedCost narrows node nd using the reduced costs of its solved
// relaxation (bound is its optimum). In the simplex's final form every
// feasible point has objective = bound + Σ d_j (x_j − x*_j) with each term
// ≤ 0, so a candidate left out (x*_j = 0) whose d_j alone brings the bound
// down to the incumbent cannot be in any better choice; as classes are
// taken best first, the class count must then stay below that candidate's
// rank. Symmetrically a candidate taken (x*_j = 1) whose removal costs that
// much must stay. It returns the narrowed box and whether it changed.
func (s *search) fixByReducedCost(nd node, bound float64) (node, bool) {
	if !s.found {
		return nd, false
	}
	limit := s.incumbent() + s.tolerance()
	out, changed := nd, false
	for j, c := range s.colClass {
		r := s.colRank[j]
		d := s.sx.reducedCost(j)
		switch x := s.sx.x[j]; {
		case x < 1e-9 && d < 0 && bound+d <= limit && r < out.hi[c]:
			if !changed {
				out, changed = node{lo: slices.Clone(nd.lo), hi: slices.Clone(nd.hi)}, true
			}
			out.hi[c] = r
		case x > 1-1e-9 && d > 0 && bound-d <= limit && r+1 > out.lo[c]:
			if !changed {
				out, changed = node{lo: slices.Clone(nd.lo), hi: slices.Clone(nd.hi)}, true
			}
			out.lo[c] = r + 1
		}
	}
	return out, changed
}

// incumbent is the objective of the best choice so far.
func (s *search) incumbent() float64 { return s.bestScore - s.w*float64(s.bestViol) }

// evaluate returns the shortfall and score of class counts x.
func (s *search) evaluate(x []int) (int, float64) {
	clear(s.counts)
	score := 0.0
	for c, n := range x {
		score += s.classes[c].prefix[n]
		for _, g := range s.classes[c].groups {
			s.counts[g] += n
		}
	}
	return s.m.violation(s.counts), score
}

// consider makes x the incumbent when it has a smaller shortfall, or the
// same shortfall and a higher score.
func (s *search) consider(x []int) {
	viol, score := s.evaluate(x)
	if s.found && (viol > s.bestViol || viol == s.bestViol && score <= s.bestScore+1e-12) {
		return
	}
	s.best, s.bestViol, s.bestScore, s.found = slices.Clone(x), viol, score, true
}

// relax solves the LP relaxation of node nd, which has left seats still to
// fill, and returns the fractional class counts and the upper bound on the
// objective (score − W × shortfall) of any choice in the node.
func (s *search) relax(nd node, left int) ([]float64, float64, error) {
	m := s.m
	s.colClass, s.colRank = s.colClass[:0], s.colRank[:0]
	for c := range s.classes {
		for r := nd.lo[c]; r < min(nd.hi[c], nd.lo[c]+left); r++ {
			s.colClass = append(s.colClass, c)
			s.colRank = append(s.colRank, r)
		}
	}
	ny := len(s.colClass)
	aux := 2 * len(m.rs.bounds)
	for i := range m.rs.spreads {
		aux += 4 + 2*len(m.sGroups[i])
	}
	p := &s.p
	p.reset(s.rows, ny+aux)

	// Candidate columns: cost = score, 1 in the cardinality row and in
	// every row of every group the candidate belongs to.
	col := 0
	fixedScore := 0.0
	fixed := make([]int, len(m.groups))
	for c, cl := range s.classes {
		fixedScore += cl.prefix[nd.lo[c]]
		for _, g := range cl.groups {
			fixed[g] += nd.lo[c]
		}
	}
	for col < ny {
		c := s.colClass[col]
		cl := s.classes[c]
		for r := nd.lo[c]; r < min(nd.hi[c], nd.lo[c]+left); r++ {
			p.c[col] = s.cands[cl.members[r]].Score
			p.upper[col] = 1
			p.set(0, col, 1)
			for _, g := range cl.groups {
				for _, row := range s.groupRows[g] {
					p.set(row, col, 1)
				}
			}
			col++
		}
	}
	p.b[0] = float64(left)
	inf := math.Inf(1)
	aux1 := func(cost, up float64) int {
		p.c[col], p.upper[col] = cost, up
		col++
		return col - 1
	}
	// Seat bounds: count + e - t = L (minimum) or count - e + t = U
	// (maximum), where e is the elastic shortfall costing W per seat.
	for k, b := range m.rs.bounds {
		row := 1 + k
		e, t := aux1(-s.w, inf), aux1(0, inf)
		sign := 1.0
		if b.kind == atMost {
			sign = -1
		}
		p.set(row, e, sign)
		p.set(row, t, -sign)
		p.b[row] = float64(b.seats - fixed[m.bGroup[k]])
	}
	// Spreads: every count ≤ hi and ≥ lo, and hi - lo - e ≤ max.
	row := 1 + len(m.rs.bounds)
	for i, sp := range m.rs.spreads {
		hi, lo := aux1(0, float64(s.seats)), aux1(0, float64(s.seats))
		for _, g := range m.sGroups[i] {
			tl, tg := aux1(0, inf), aux1(0, inf)
			p.set(row, hi, -1)
			p.set(row, tl, 1)
			p.b[row] = float64(-fixed[g])
			p.set(row+1, lo, -1)
			p.set(row+1, tg, -1)
			p.b[row+1] = float64(-fixed[g])
			row += 2
		}
		e, t := aux1(-s.w, inf), aux1(0, inf)
		p.set(row, hi, 1)
		p.set(row, lo, -1)
		p.set(row, e, -1)
		p.set(row, t, 1)
		p.b[row] = float64(sp.max)
		row++
	}

	sol, obj, err := s.sx.solve(p)
	if err != nil {
		return nil, 0, err
	}
	x := make([]float64, len(s.classes))
	for c := range s.classes {
		x[c] = float64(nd.lo[c])
	}
	for j := 0; j < ny; j++ {
		x[s.colClass[j]] += sol[j]
	}
	return x, fixedScore + obj, nil
}

// heuristic rounds a node's relaxation to a full choice inside the node's
// box: the whole part of each class count, topped up seat by seat with the
// addition that lowers the shortfall most (then adds the most score). With
// exchange set it then moves single seats between classes while that
// lowers the shortfall or raises the score. Rounding every node keeps good
// choices coming as the search dives, which the pruning lives on; the
// exchanges cost more and run at the root only.
func (s *search) heuristic(frac []float64, nd node, exchange bool) {
	c := s.newComposition()
	for k, v := range frac {
		c.add(k, min(max(int(math.Floor(v+1e-9)), nd.lo[k]), nd.hi[k]))
	}
	for k := range c.x {
		for c.total > s.seats && c.x[k] > nd.lo[k] {
			c.add(k, -1)
		}
	}
	for c.total < s.seats {
		best, bestV, bestS := -1, 0, 0.0
		for k := range c.x {
			if c.x[k] >= nd.hi[k] {
				continue
			}
			c.add(k, 1)
			v := c.violation()
			if best < 0 || v < bestV || v == bestV && c.score > bestS {
				best, bestV, bestS = k, v, c.score
			}
			c.add(k, -1)
		}
		if best < 0 {
			return // the box cannot be filled
		}
		c.add(best, 1)
	}
	if exchange {
		viol := c.violation()
		for pass := 0; pass < 10*s.seats; pass++ {
			improved := false
			for a := range c.x {
				for b := range c.x {
					if b == a || c.x[a] <= nd.lo[a] || c.x[b] >= nd.hi[b] {
						continue
					}
					before := c.score
					c.add(a, -1)
					c.add(b, 1)
					if v := c.violation(); v < viol || v == viol && c.score > before+1e-12 {
						viol, improved = v, true
						continue
					}
					c.add(b, -1)
					c.add(a, 1)
				}
			}
			if !improved {
				break
			}
		}
	}
	s.consider(c.x)
}

// composition is a choice of class counts with its group counts and score
// kept up to date, so the heuristic judges a change in time proportional
// to the number of targets rather than of classes.
type composition struct {
	s      *search
	x      []int
	counts []int
	score  float64
	total  int
}

func (s *search) newComposition() *composition {
	return &composition{s: s, x: make([]int, len(s.classes)), counts: make([]int, len(s.m.groups))}
}

// add changes the count of class k by d seats.
func (c *composition) add(k, d int) {
	cl := &c.s.classes[k]
	if d > 0 {
		c.score += cl.prefix[c.x[k]+d] - cl.prefix[c.x[k]]
	} else {
		c.score -= cl.prefix[c.x[k]] - cl.prefix[c.x[k]+d]
	}
	c.x[k] += d
	c.total += d
	for _, g := range cl.groups {
		c.counts[g] += d
	}
}

func (c *composition) violation() int { return c.s.m.violation(c.counts) }

// picks returns the candidates chosen by class counts x, best score first.
func (s *search) picks(x []int) []Candidate {
	var idx []int
	for c, n := range x {
		idx = append(idx, s.classes[c].members[:n]...)
	}
	slices.Sort(idx) // candidates are sorted best first
	out := make([]Candidate, len(idx))
	for i, k := range idx {
		out[i] = s.cands[k]
	}
	return out
}

// binding returns the targets the optimum meets exactly whose relaxation
// by one seat would raise the total score, each with that gain.
func (s *search) binding() ([]Finding, error) {
	m := s.m
	x := slices.Clone(s.best)
	_, score := s.evaluate(x)
	counts := slices.Clone(s.counts)
	w := m.wording(false)
	out := []Finding{}

	gain := func(relaxed *compiled) (float64, error) {
		r := newSearch(s.ctx, relaxed, s.cands, s.seats)
		r.consider(x) // still a valid choice: start from it
		if err := r.run(); err != nil {
			return 0, err
		}
		if r.bestViol > 0 {
			return 0, nil
		}
		return r.bestScore - score, nil
	}
	for k, b := range m.rs.bounds {
		c := counts[m.bGroup[k]]
		if c != b.seats || b.kind == atLeast && b.seats == 0 || b.kind == atMost && b.seats >= s.seats {
			continue
		}
		relaxed := *m
		relaxed.rs.bounds = slices.Clone(m.rs.bounds)
		if b.kind == atLeast {
			relaxed.rs.bounds[k].seats--
		} else {
			relaxed.rs.bounds[k].seats++
		}
		g, err := gain(&relaxed)
		if err != nil {
			return nil, err
		}
		if g > 1e-9 {
			f := w.boundFinding(b, c, 0, true)
			f.Gain = g
			more := "Allowing one seat more"
			if b.kind == atLeast {
				more = "Requiring one seat fewer"
			}
			f.Message += fmt.Sprintf(" %s would raise the total score by %s.", more, formatScore(roundScore(g)))
			out = append(out, f)
		}
	}
	for i, sp := range m.rs.spreads {
		lo, hi := spreadRange(counts, m.sGroups[i])
		if hi-lo != sp.max {
			continue
		}
		relaxed := *m
		relaxed.rs.spreads = slices.Clone(m.rs.spreads)
		relaxed.rs.spreads[i].max++
		g, err := gain(&relaxed)
		if err != nil {
			return nil, err
		}
		if g > 1e-9 {
			vc := make([]int, len(sp.values))
			for j, gr := range m.sGroups[i] {
				vc[j] = counts[gr]
			}
			f := w.spreadFinding(sp, vc, hi-lo, true)
			f.Gain = g
			f.Message += fmt.Sprintf(" Allowing them one seat further apart would raise the total score by %s.", formatScore(roundScore(g)))
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Rule - b.Rule })
	return out, nil
}
