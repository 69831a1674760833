package export

import (
	"errors"
	"math"
)

// This file holds a small dense linear-programming solver: the bounded
// variable primal simplex method on a full tableau, with a phase one over
// artificial variables. Suggest uses it for the relaxation bounds of its
// branch and bound. The problems it sees are small (tens of rows, hundreds
// of columns), where a dense tableau is both the simplest and the fastest
// choice; no general LP library is needed for that.

// lp is the problem: maximise c·x subject to A x = b and 0 ≤ x ≤ upper
// (upper may be +Inf). A is stored row-major in a, rows × cols.
type lp struct {
	rows, cols int
	a          []float64
	b          []float64
	c          []float64
	upper      []float64
}

// reset sizes the problem to rows × cols with all coefficients zero,
// reusing the slices' memory.
func (p *lp) reset(rows, cols int) {
	p.rows, p.cols = rows, cols
	p.a = resize(p.a, rows*cols)
	p.b = resize(p.b, rows)
	p.c = resize(p.c, cols)
	p.upper = resize(p.upper, cols)
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// set sets the coefficient of column col in row row.
func (p *lp) set(row, col int, v float64) { p.a[row*p.cols+col] = v }

var (
	errLPInfeasible = errors.New("linear program has no feasible point")
	errLPUnbounded  = errors.New("linear program is unbounded")
	errLPStalled    = errors.New("linear program did not converge")
)

const (
	lpPivotTol = 1e-9 // smallest tableau entry accepted as a pivot
	lpCostTol  = 1e-9 // reduced cost treated as zero (relative to the cost scale)
)

// simplex is the working state of one solve. Its slices are reused across
// solves to keep the branch and bound from allocating per node.
type simplex struct {
	m, n    int       // rows, columns including the artificials
	t       []float64 // the tableau B⁻¹A, m × n row-major
	beta    []float64 // values of the basic variables
	d       []float64 // reduced costs
	up      []float64
	cost    []float64
	basis   []int // basic column of each row
	where   []int // row of a basic column, or -1
	atUpper []bool
	x       []float64
}

// reducedCost returns, after a successful solve, by how much the
// objective changes per unit that column j moves away from its optimal
// value: 0 for a basic column, ≤ 0 for one at its lower bound and ≥ 0 for
// one at its upper bound. Every feasible point x satisfies
// c·x = optimum + Σ_j reducedCost(j) · (x_j − x*_j), which is what lets
// Suggest fix candidates without solving again.
func (s *simplex) reducedCost(j int) float64 {
	if s.where[j] >= 0 {
		return 0
	}
	return s.d[j]
}

// solve maximises p and returns the optimal x (length p.cols, owned by the
// simplex and valid until the next solve) and the objective value. It
// returns errLPInfeasible, errLPUnbounded or errLPStalled when there is no
// optimum to report.
func (s *simplex) solve(p *lp) ([]float64, float64, error) {
	m, n := p.rows, p.cols+p.rows
	s.m, s.n = m, n
	s.t = resize(s.t, m*n)
	s.beta = resize(s.beta, m)
	s.d = resize(s.d, n)
	s.up = resize(s.up, n)
	s.cost = resize(s.cost, n)
	if cap(s.basis) < m {
		s.basis = make([]int, m)
	}
	s.basis = s.basis[:m]
	if cap(s.where) < n {
		s.where = make([]int, n)
	}
	s.where = s.where[:n]
	if cap(s.atUpper) < n {
		s.atUpper = make([]bool, n)
	}
	s.atUpper = s.atUpper[:n]
	clear(s.atUpper)

	// Every structural column starts non-basic at its lower bound 0, so
	// row r needs its artificial to carry b[r]; rows with b[r] < 0 are
	// negated first so that every artificial starts non-negative.
	for r := 0; r < m; r++ {
		sign := 1.0
		if p.b[r] < 0 {
			sign = -1
		}
		row := s.t[r*n : (r+1)*n]
		for j := 0; j < p.cols; j++ {
			row[j] = sign * p.a[r*p.cols+j]
		}
		row[p.cols+r] = 1
		s.beta[r] = sign * p.b[r]
		s.basis[r] = p.cols + r
	}
	for j := range s.where {
		s.where[j] = -1
	}
	for r, j := range s.basis {
		s.where[j] = r
	}
	copy(s.up, p.upper)
	for j := p.cols; j < n; j++ {
		s.up[j] = math.Inf(1)
	}

	// Phase one: maximise minus the sum of the artificials.
	scale := 1.0
	for j := 0; j < p.cols; j++ {
		s.cost[j] = 0
		scale = max(scale, math.Abs(p.c[j]))
	}
	for j := p.cols; j < n; j++ {
		s.cost[j] = -1
	}
	if err := s.iterate(lpCostTol); err != nil {
		return nil, 0, err
	}
	infeas := 0.0
	for r, j := range s.basis {
		if j >= p.cols {
			infeas += s.beta[r]
		}
	}
	if infeas > 1e-7*float64(m+1) {
		return nil, 0, errLPInfeasible
	}
	// Artificials may not grow again: fix them at zero. Those still basic
	// (at zero) are pivoted out by degenerate steps as needed.
	for j := p.cols; j < n; j++ {
		s.up[j] = 0
		s.cost[j] = 0
	}
	copy(s.cost, p.c)
	if err := s.iterate(lpCostTol * scale); err != nil {
		return nil, 0, err
	}

	s.x = resize(s.x, p.cols)
	x := s.x
	for j := 0; j < p.cols; j++ {
		switch {
		case s.where[j] >= 0:
			x[j] = max(0, min(s.beta[s.where[j]], s.up[j]))
		case s.atUpper[j]:
			x[j] = s.up[j]
		default:
			x[j] = 0
		}
	}
	obj := 0.0
	for j := 0; j < p.cols; j++ {
		obj += p.c[j] * x[j]
	}
	return x, obj, nil
}

// iterate runs simplex steps with the current costs until no column can
// improve the objective.
func (s *simplex) iterate(tol float64) error {
	m, n := s.m, s.n
	// Reduced costs d_j = c_j - c_B · T_j.
	copy(s.d, s.cost)
	for r, bj := range s.basis {
		if cb := s.cost[bj]; cb != 0 {
			row := s.t[r*n : (r+1)*n]
			for j, v := range row {
				s.d[j] -= cb * v
			}
		}
	}
	degenerate := 0
	limit := 50 * (m + n)
	for iter := 0; ; iter++ {
		if iter > limit {
			return errLPStalled
		}
		// Entering column: the largest improving reduced cost (Dantzig),
		// or, after a run of degenerate steps, the first improving one
		// (Bland), which cannot cycle.
		bland := degenerate > 30
		enter, best := -1, tol
		for j := 0; j < n; j++ {
			if s.where[j] >= 0 {
				continue
			}
			var gain float64
			switch {
			case !s.atUpper[j] && s.d[j] > 0 && s.up[j] > 0:
				gain = s.d[j]
			case s.atUpper[j] && s.d[j] < 0:
				gain = -s.d[j]
			default:
				continue
			}
			if gain > best {
				enter, best = j, gain
				if bland {
					break
				}
			}
		}
		if enter < 0 {
			return nil
		}
		dir := 1.0 // the entering variable grows from 0 ...
		if s.atUpper[enter] {
			dir = -1 // ... or shrinks from its upper bound
		}
		// Ratio test: how far can the entering variable move before it or
		// a basic variable hits a bound?
		theta, leave, leaveUpper := s.up[enter], -1, false
		bestAlpha := 0.0
		for r := 0; r < m; r++ {
			alpha := dir * s.t[r*n+enter]
			var lim float64
			var toUpper bool
			switch {
			case alpha > lpPivotTol:
				lim = max(s.beta[r], 0) / alpha
			case alpha < -lpPivotTol && !math.IsInf(s.up[s.basis[r]], 1):
				lim = max(s.up[s.basis[r]]-s.beta[r], 0) / -alpha
				toUpper = true
			default:
				continue
			}
			a := math.Abs(alpha)
			switch {
			case lim < theta-1e-12:
			case lim <= theta+1e-12 && leave >= 0 && (bland && s.basis[r] < s.basis[leave] || !bland && a > bestAlpha):
			default:
				continue
			}
			theta, leave, leaveUpper, bestAlpha = lim, r, toUpper, a
		}
		if math.IsInf(theta, 1) {
			return errLPUnbounded
		}
		if theta < 1e-12 {
			degenerate++
		} else {
			degenerate = 0
		}
		for r := 0; r < m; r++ {
			if v := s.t[r*n+enter]; v != 0 {
				s.beta[r] -= theta * dir * v
			}
		}
		if leave < 0 {
			s.atUpper[enter] = !s.atUpper[enter] // bound flip, basis unchanged
			continue
		}
		entering := theta * dir
		if s.atUpper[enter] {
			entering += s.up[enter]
		}
		out := s.basis[leave]
		s.pivot(leave, enter)
		s.beta[leave] = entering
		s.basis[leave] = enter
		s.where[enter] = leave
		s.where[out] = -1
		s.atUpper[enter] = false
		s.atUpper[out] = leaveUpper
	}
}

// pivot makes column j basic in row r: row r is scaled to a 1 in column
// j and column j is eliminated from every other row and the reduced costs.
func (s *simplex) pivot(r, j int) {
	n := s.n
	prow := s.t[r*n : (r+1)*n]
	inv := 1 / prow[j]
	for k := range prow {
		prow[k] *= inv
	}
	prow[j] = 1
	for i := 0; i < s.m; i++ {
		if i == r {
			continue
		}
		row := s.t[i*n : (i+1)*n]
		f := row[j]
		if f == 0 {
			continue
		}
		for k, v := range prow {
			if v != 0 {
				row[k] -= f * v
			}
		}
		row[j] = 0
	}
	if f := s.d[j]; f != 0 {
		for k, v := range prow {
			if v != 0 {
				s.d[k] -= f * v
			}
		}
		s.d[j] = 0
	}
}
