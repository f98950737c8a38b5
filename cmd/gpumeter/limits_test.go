package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter/internal/storetest"
)

// limits shows the small month's nhn over its borrowing limits, with its
// three violations.
func TestLimitsTable(t *testing.T) {
	dsn := storetest.Backends()[0].DSN(t)
	small := "../../testdata/reports/small/"
	for _, kind := range []string{"inventory", "projects", "allocations", "samples"} {
		if code := run(context.Background(), []string{"import", kind, small + kind + ".csv", "--store", dsn, "--log-level", "error"}); code != exitOK {
			t.Fatalf("import %s: exit %d", kind, code)
		}
	}
	var out, errOut strings.Builder
	code := runWith(context.Background(), []string{"limits", "--provider", "nhn", "--month", "2026-10", "--config", small + "config.yaml",
		"--store", dsn, "--log-level", "error"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"borrowed GPU-hours this month  2.508  2.000  OVER",
		"longest borrow hold, hours  3.000  2.000  OVER",
		"violations: 3",
		"borrow_too_long          GPU-G1  n1    2026-09-30T18:00:00Z  2026-09-30T21:00:00Z  3.000",
		"borrow_over_monthly_cap  -       -     2026-09-30T15:00:00Z  2026-10-31T15:00:00Z  0.508",
		"unallocated_use          GPU-G2  n1    2026-09-30T17:00:00Z  2026-09-30T17:10:00Z  0.167",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("limits output lacks %q:\n%s", want, out.String())
		}
	}
}
