package export

import (
	"errors"
	"math"
	"testing"
)

// mustLP builds an lp from dense rows.
func mustLP(tb testing.TB, a [][]float64, b, c, upper []float64) *lp {
	tb.Helper()
	p := &lp{}
	p.reset(len(a), len(c))
	for r, row := range a {
		if len(row) != len(c) {
			tb.Fatalf("row %d has %d columns, want %d", r, len(row), len(c))
		}
		for j, v := range row {
			p.set(r, j, v)
		}
	}
	copy(p.b, b)
	copy(p.c, c)
	copy(p.upper, upper)
	return p
}

func TestSimplex(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name    string
		a       [][]float64
		b, c    []float64
		upper   []float64
		wantObj float64
		wantX   []float64 // nil: not checked (several optima)
		wantErr error
	}{
		{
			// max 3x + 2y, x + y + s = 4, x + 3y + t = 6, x ≤ 3
			name: "textbook with an upper bound", a: [][]float64{{1, 1, 1, 0}, {1, 3, 0, 1}},
			b: []float64{4, 6}, c: []float64{3, 2, 0, 0}, upper: []float64{3, inf, inf, inf},
			wantObj: 11, wantX: []float64{3, 1, 0, 0},
		},
		{
			// choose 2 of 4 items worth 5, 4, 3, 1 with x1 + x2 ≤ 1: 5 + 3.
			name: "cardinality with a group limit", a: [][]float64{{1, 1, 1, 1, 0}, {1, 1, 0, 0, 1}},
			b: []float64{2, 1}, c: []float64{5, 4, 3, 1, 0}, upper: []float64{1, 1, 1, 1, inf},
			wantObj: 8, wantX: []float64{1, 0, 1, 0, 0},
		},
		{
			// x1 + x2 = 1.5 with both ≤ 1: fractional optimum 1·4 + 0.5·2.
			name: "fractional optimum", a: [][]float64{{1, 1}},
			b: []float64{1.5}, c: []float64{4, 2}, upper: []float64{1, 1},
			wantObj: 5, wantX: []float64{1, 0.5},
		},
		{
			// negative right-hand side: -x - y = -2, maximise -x.
			name: "negative right-hand side", a: [][]float64{{-1, -1}},
			b: []float64{-2}, c: []float64{-1, 0}, upper: []float64{inf, inf},
			wantObj: 0, wantX: []float64{0, 2},
		},
		{
			name: "infeasible", a: [][]float64{{1, 1}},
			b: []float64{3}, c: []float64{1, 1}, upper: []float64{1, 1},
			wantErr: errLPInfeasible,
		},
		{
			name: "unbounded", a: [][]float64{{1, -1}},
			b: []float64{0}, c: []float64{1, 0}, upper: []float64{inf, inf},
			wantErr: errLPUnbounded,
		},
		{
			// a degenerate problem: many ties at the same vertex.
			name: "degenerate", a: [][]float64{{1, 1, 1, 1, 0, 0}, {1, 0, 1, 0, 1, 0}, {0, 1, 0, 1, 0, 1}},
			b: []float64{2, 1, 1}, c: []float64{1, 1, 1, 1, 0, 0}, upper: []float64{1, 1, 1, 1, inf, inf},
			wantObj: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s simplex
			x, obj, err := s.solve(mustLP(t, tt.a, tt.b, tt.c, tt.upper))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if math.Abs(obj-tt.wantObj) > 1e-9 {
				t.Errorf("objective = %v, want %v", obj, tt.wantObj)
			}
			for j, want := range tt.wantX {
				if math.Abs(x[j]-want) > 1e-9 {
					t.Errorf("x[%d] = %v, want %v (x = %v)", j, x[j], want, x)
				}
			}
		})
	}
}
