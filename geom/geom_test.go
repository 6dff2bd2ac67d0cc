package geom

import "testing"

func TestUnion(t *testing.T) {
	a, b := Box{X1: 10, Y1: 20, X2: 30, Y2: 40}, Box{X1: 25, Y1: 5, X2: 50, Y2: 35}
	for _, tc := range []struct {
		name       string
		b, o, want Box
	}{
		{"two boxes: the smallest holding both", a, b, Box{X1: 10, Y1: 5, X2: 50, Y2: 40}},
		{"a box inside another: the other", Box{X1: 12, Y1: 22, X2: 20, Y2: 30}, a, a},
		{"the zero box holds nothing", Box{}, b, b},
		{"with the zero box: itself", a, Box{}, a},
		{"two zero boxes: zero", Box{}, Box{}, Box{}},
	} {
		if got := tc.b.Union(tc.o); got != tc.want {
			t.Errorf("%s: %v.Union(%v) = %v, want %v", tc.name, tc.b, tc.o, got, tc.want)
		}
	}
}
