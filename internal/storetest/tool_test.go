package storetest

import "testing"

type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()              {}
func (r *recorder) Fatal(...any)         { r.failed = true }
func (r *recorder) Skip(...any)          { r.skipped = true }
func (r *recorder) Skipf(string, ...any) { r.skipped = true }

func TestMissingToolFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	MissingTool(r, "no chromium")
	if !r.failed || r.skipped {
		t.Fatalf("under CI: failed %v, skipped %v", r.failed, r.skipped)
	}
	t.Setenv("CI", "")
	r = &recorder{TB: t}
	MissingTool(r, "no chromium")
	if r.failed || !r.skipped {
		t.Fatalf("without CI: failed %v, skipped %v", r.failed, r.skipped)
	}
}
