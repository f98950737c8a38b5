package gpumeter

import "testing"

// SPEC §5: "All quantities are integer GPU-seconds internally; GPU-hours are
// reported rounded to 3 decimals", and charges are round_half_up.
func TestRounding(t *testing.T) {
	for _, c := range []struct {
		got, want float64
		what      string
	}{
		{Hours(1), 0, "1 s"},          // 0.000278 h
		{Hours(2), 0.001, "2 s"},      // 0.000556 h: half up
		{Hours(9000), 2.5, "9000 s"},  // exact
		{Hours(-2), -0.001, "-2 s"},   // a correction: halves away from zero
		{Pct(1, 3), 33.333, "1 of 3"}, // percent to 3 decimals
		{Pct(2, 3), 66.667, "2 of 3"},
		{Pct(5, 0), 0, "of nothing"},
		{Round3(1.0005), 1.001, "1.0005"},
		{Round3(2.0004), 2, "2.0004"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// 1800 s at 1 won an hour is half a won: up to 1; the rate is the
	// decimal it is written as (0.1 × 36000 s = 1 won exactly, not 0.99…).
	if KRW(1800, 1) != 1 || KRW(1799, 1) != 0 || KRW(36000, 0.1) != 1 || KRW(3600*13136, 2_500_000) != 32_840_000_000 {
		t.Fatalf("KRW: %d %d %d %d", KRW(1800, 1), KRW(1799, 1), KRW(36000, 0.1), KRW(3600*13136, 2_500_000))
	}
}
