package imports_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const fleet = "../testdata/imports/fleet/"

func count(t *testing.T, st store.Store, query string) int { return storetest.Count(t, st, query) }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustImport(t *testing.T, im *imports.Importer, kind, path string) imports.Result {
	t.Helper()
	res, err := im.Import(context.Background(), kind, path)
	if err != nil {
		t.Fatalf("import %s %s: %v", kind, path, err)
	}
	return res
}

// wantRejected checks that an import fails naming exactly the given lines, and
// that the store's row counts did not move.
func wantRejected(t *testing.T, im *imports.Importer, kind, path string, lines map[int]string) {
	t.Helper()
	before := snapshot(t, im.Store)
	_, err := im.Import(context.Background(), kind, path)
	var ve *imports.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("import %s: got %v, want a validation error", kind, err)
	}
	got := map[int]string{}
	for _, p := range ve.Problems {
		got[p.Line] += p.Reason
	}
	for line, want := range lines {
		if !strings.Contains(got[line], want) {
			t.Errorf("line %d: got %q, want it to say %q", line, got[line], want)
		}
	}
	if ve.Total != len(lines) {
		t.Errorf("%d bad lines reported, want %d:\n%v", ve.Total, len(lines), err)
	}
	if after := snapshot(t, im.Store); after != before {
		t.Errorf("a rejected file changed the store: %s -> %s", before, after)
	}
}

func snapshot(t *testing.T, st store.Store) string {
	var parts []string
	for _, table := range []string{"imports", "inventory", "projects", "allocations", "samples"} {
		parts = append(parts, fmt.Sprintf("%s=%d", table, count(t, st, "SELECT count() FROM "+table)))
	}
	return strings.Join(parts, " ")
}

func importFleet(t *testing.T, st store.Store) *imports.Importer {
	im := &imports.Importer{Store: st}
	mustImport(t, im, imports.KindInventory, fleet+"inventory.csv")
	mustImport(t, im, imports.KindProjects, fleet+"projects.csv")
	mustImport(t, im, imports.KindAllocations, fleet+"allocations.csv")
	return im
}

func TestInventoryImportReplaceAndNoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		im := &imports.Importer{Store: st}
		first := mustImport(t, im, imports.KindInventory, fleet+"inventory.csv")
		if first.Rows != 5 || first.Unchanged {
			t.Fatalf("first import: %+v", first)
		}
		again := mustImport(t, im, imports.KindInventory, fleet+"inventory.csv")
		if !again.Unchanged {
			t.Fatalf("re-import of the same file wrote a batch: %+v", again)
		}
		if n := count(t, st, "SELECT count() FROM imports"); n != 1 {
			t.Fatalf("imports after no-op re-import: %d, want 1", n)
		}
		// A later file that names GPU-n2-0 replaces its two rows with one;
		// the GPUs it does not name keep theirs.
		later := writeFile(t, "inventory-2.csv", `gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to
GPU-n2-0,nhn,pangyo,nhn-n2,0,B200,private,2026-10-01T00:00:00+09:00,2026-11-01T00:00:00+09:00
`)
		mustImport(t, im, imports.KindInventory, later)
		inv, err := store.Inventory(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv) != 4 {
			t.Fatalf("current inventory has %d rows, want 4: %+v", len(inv), inv)
		}
		var n2 []string
		for _, r := range inv {
			if r.GPUUUID == "GPU-n2-0" {
				n2 = append(n2, fmt.Sprintf("%s %s..%s", r.Share, r.ValidFrom.Format(time.RFC3339), r.ValidTo.Format(time.RFC3339)))
			}
		}
		want := "private 2026-09-30T15:00:00Z..2026-10-31T15:00:00Z"
		if len(n2) != 1 || n2[0] != want {
			t.Fatalf("GPU-n2-0 rows %v, want [%s]", n2, want)
		}
		// The first file again is a change now: it restores the two rows.
		if res := mustImport(t, im, imports.KindInventory, fleet+"inventory.csv"); res.Unchanged {
			t.Fatal("re-importing the first file after a replacement was skipped")
		}
		if n := count(t, st, "SELECT count() FROM inventory_current WHERE gpu_uuid = 'GPU-n2-0'"); n != 2 {
			t.Fatalf("GPU-n2-0 has %d rows, want 2", n)
		}
	})
}

func TestInventoryRejectsBadLines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := &imports.Importer{Store: st}
		path := writeFile(t, "inventory.csv", `gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to
GPU-a,nhn,pangyo,n1,0,B200,government,2026-10-01T00:00:00+09:00,
GPU-b,nhn,pangyo,n1,1,B200,public,2026-10-01T00:00:00+09:00,
GPU-c,nhn,pangyo,n1,2,B200,private,2026-10-01 00:00:00,
GPU-d,nhn,pangyo,n1,3,B200,private,2026-10-05T00:00:00+09:00,2026-10-01T00:00:00+09:00
GPU-a,nhn,pangyo,n1,0,B200,private,2026-10-20T00:00:00+09:00,
GPU-e,NHN,pangyo,n1,x,B200,private,2026-10-01T00:00:00+09:00,
GPU-f,nhn,pangyo,n1,5,B200,private
`)
		wantRejected(t, im, imports.KindInventory, path, map[int]string{
			3: `share "public" is not government or private`,
			4: `valid_from "2026-10-01 00:00:00" is not an RFC 3339 time with an offset`,
			5: "valid_to 2026-10-01T00:00:00+09:00 is not after valid_from",
			6: "validity overlaps line 2",
			7: `gpu_index "x"`,
			8: "7 fields, want 9",
		})
		missing := writeFile(t, "inventory.csv", "gpu_uuid,provider,site,node,model,share,valid_from,valid_to\n")
		_, err := im.Import(context.Background(), imports.KindInventory, missing)
		if err == nil || !strings.Contains(err.Error(), `inventory.csv:1: bad header (missing column "gpu_index")`) {
			t.Fatalf("missing column: %v", err)
		}
	})
}

func TestProjects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := importFleet(t, st)
		bad := writeFile(t, "projects.csv", `project_id,name,kind,provider,namespace
p-new,새 과제,startup,nhn,
p-new,새 과제,public,nhn,
p-other,다른 과제,public,nhn,snu-llm
`)
		wantRejected(t, im, imports.KindProjects, bad, map[int]string{
			2: `kind "startup" is not public or provider`,
			3: "project p-new is also on line 2",
			4: `namespace "snu-llm" already belongs to project p-univ`,
		})
		// Renaming the namespace's owner in the same file frees it.
		moved := writeFile(t, "projects.csv", `project_id,name,kind,provider,namespace
p-univ,서울대 LLM 연구,public,nhn,snu-llm-2
p-other,다른 과제,public,nhn,snu-llm
`)
		mustImport(t, im, imports.KindProjects, moved)
		ps, err := store.Projects(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range ps {
			got[p.ID] = p.Namespace + "/" + p.Name
		}
		if len(ps) != 4 || got["p-other"] != "snu-llm/다른 과제" || got["p-univ"] != "snu-llm-2/서울대 LLM 연구" {
			t.Fatalf("projects %v", got)
		}
	})
}

func TestAllocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := importFleet(t, st)
		if res := mustImport(t, im, imports.KindAllocations, fleet+"allocations.csv"); !res.Unchanged {
			t.Fatalf("re-import: %+v", res)
		}
		bad := writeFile(t, "allocations.csv", `allocation_id,project_id,gpu_uuid,node,start,end
b-1,p-ghost,GPU-n1-1,,2026-10-01T00:00:00+09:00,
b-2,p-univ,GPU-n1-1,nhn-n1,2026-10-01T00:00:00+09:00,
b-3,p-univ,GPU-n1-0,,2026-10-05T00:00:00+09:00,2026-10-06T00:00:00+09:00
b-4,p-univ,GPU-k1-0,,2026-11-01T00:00:00+09:00,
b-5,p-univ,,nhn-n2,2026-10-19T00:00:00+09:00,2026-10-25T00:00:00+09:00
b-6,p-univ,GPU-n1-1,,2026-10-01T00:00:00+09:00,2026-10-03T00:00:00+09:00
b-7,p-nhn-own,,nhn-n1,2026-10-02T00:00:00+09:00,2026-10-04T00:00:00+09:00
b-8,p-univ,GPU-nowhere,,2026-10-01T00:00:00+09:00,
b-9,p-univ,GPU-n1-1,,2026-10-09T00:00:00+09:00,2026-10-09T00:00:00+09:00
`)
		wantRejected(t, im, imports.KindAllocations, bad, map[int]string{
			2:  "project p-ghost is not in the imported projects",
			3:  "give exactly one of gpu_uuid and node",
			4:  "GPU GPU-n1-0 is already held from 2026-09-30T15:00:00Z by project p-univ (stored allocation a-1)",
			5:  "project p-univ of provider nhn cannot hold GPU GPU-k1-0 of provider kakao",
			6:  "GPU GPU-n2-0 is already held from 2026-10-01T15:00:00Z by project p-univ (stored allocation a-3)",
			8:  "is already held from 2026-09-30T15:00:00Z by project p-univ (line 7)",
			9:  "GPU GPU-nowhere has no inventory row valid during the allocation",
			10: "end 2026-10-09T00:00:00+09:00 is not after start",
		})
		// Moving a-1's end earlier by re-importing it frees GPU-n1-0 from the 5th.
		moved := writeFile(t, "allocations.csv", `allocation_id,project_id,gpu_uuid,node,start,end
a-1,p-univ,GPU-n1-0,,2026-10-01T00:00:00+09:00,2026-10-05T00:00:00+09:00
b-3,p-univ,GPU-n1-0,,2026-10-05T00:00:00+09:00,2026-10-06T00:00:00+09:00
`)
		mustImport(t, im, imports.KindAllocations, moved)
		if n := count(t, st, "SELECT count() FROM allocations_current"); n != 5 {
			t.Fatalf("allocations_current: %d, want 5", n)
		}
		if n := count(t, st, "SELECT count() FROM allocations_current WHERE allocation_id = 'a-1' AND end_ts = toDateTime(1791126000)"); n != 1 {
			t.Fatalf("a-1 was not replaced")
		}
	})
}

func TestSamples(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		im := &imports.Importer{Store: st, BatchRows: 2}
		res := mustImport(t, im, imports.KindSamples, fleet+"samples.csv")
		if res.Rows != 6 {
			t.Fatalf("rows %d, want 6", res.Rows)
		}
		// 09:00:15.600 truncates to 09:00:15, which the file also has: 5 distinct.
		if n := count(t, st, "SELECT count() FROM samples FINAL"); n != 5 {
			t.Fatalf("samples %d, want 5", n)
		}
		mustImport(t, im, imports.KindSamples, fleet+"samples.csv")
		if n := count(t, st, "SELECT count() FROM samples FINAL"); n != 5 {
			t.Fatalf("after re-import: %d samples, want 5", n)
		}
		if n := count(t, st, "SELECT count() FROM samples FINAL WHERE gpu_uuid = 'GPU-unknown'"); n != 1 {
			t.Fatal("a sample of a GPU absent from the inventory was dropped")
		}
		stored, err := store.Samples(ctx, st, "GPU-n1-0", time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range stored {
			got = append(got, fmt.Sprintf("%d %s %s %s %s %q", s.TS.Unix(), fmtp(s.GPUUtil), fmtp(s.GrEngineActive), fmtp(s.FBUsedMiB), fmtp(s.EnergyMJ), s.Namespace))
		}
		want := []string{
			`1790812800 87 0.91 61234 1000000 "snu-llm"`,
			`1790812815 85 0.9 61234 1009000 "snu-llm"`,
			`1790812830 NULL NULL NULL NULL ""`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("samples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// A later import fills gaps; a stored (gpu_uuid, ts) keeps its values.
		fix := writeFile(t, "fix.csv", strings.Join(imports.SampleColumns, ",")+"\n"+
			"2026-10-01T00:00:30Z,GPU-n1-0,nhn-n1,42,,,,,,,,\n"+
			"2026-10-01T00:00:45Z,GPU-n1-0,nhn-n1,43,,,,,,,,\n")
		mustImport(t, im, imports.KindSamples, fix)
		if n := count(t, st, "SELECT count() FROM samples FINAL WHERE gpu_uuid = 'GPU-n1-0' AND gpu_util IN (42, 43)"); n != 1 {
			t.Fatal("a later import replaced a stored sample, or did not fill the gap")
		}
		if n := count(t, st, "SELECT count() FROM samples FINAL"); n != 6 {
			t.Fatalf("after the second import: %d samples, want 6", n)
		}
	})
}

func fmtp[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

// One bad row among 10,000 good ones rejects the whole file, though the
// rows before it were being written already.
func TestSamplesOneBadRowRejectsFile(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.Join(imports.SampleColumns, ",") + "\n")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10001; i++ {
		util := fmt.Sprint(i % 100)
		if i == 7000 { // line 7002: header is line 1, row i is line i+2
			util = "4294967295"
		}
		fmt.Fprintf(&b, "%s,GPU-%d,node-%d,%s,0.5,0.4,1000,2000,300.5,%d,ns,pod\n",
			start.Add(time.Duration(i/8)*15*time.Second).Format(time.RFC3339), i%8, i%8, util, 1000+i)
	}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := &imports.Importer{Store: st, BatchRows: 1000}
		path := writeFile(t, "samples.csv", b.String())
		wantRejected(t, im, imports.KindSamples, path, map[int]string{
			7002: `gpu_util "4294967295" is not a number from 0 to 100`,
		})
		// The seven batches written before line 7002 was read are gone from
		// the table too, not only unseen.
		if n := storetest.Count(t, st, "SELECT count() FROM samples"); n != 0 {
			t.Fatalf("%d rows of the rejected file left in the table", n)
		}
		// So are their GPUs from the list the report counts unregistered
		// GPUs in (none of GPU-0..7 is in an inventory).
		if n := storetest.Count(t, st, "SELECT count() FROM sample_gpus"); n != 0 {
			t.Fatalf("%d GPU-hours of the rejected file left in sample_gpus", n)
		}
	})
}
