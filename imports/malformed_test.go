package imports_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

// What a careless operator feeds in: stray quotes, NUL bytes, control
// characters, invalid UTF-8, overlong ids, times the store cannot hold. Each
// is a bad line named with its number, every import kind, nothing stored.
func TestMalformedLinesAreNamed(t *testing.T) {
	long := strings.Repeat("x", 10<<10)
	cases := []struct {
		kind, content string
		lines         map[int]string
	}{
		{imports.KindProjects, "project_id,name,kind,provider,namespace\n" +
			"p-ok,ok,public,naver,\n" +
			"foo\"bar,x,public,naver,\n" + // the quote that used to panic
			"p-nul,a\x00b,public,naver,\n" +
			"p-utf,\xff\xfe,public,naver,\n" +
			"p-" + long + ",x,public,naver,\n" +
			"p-tab,x,public,naver,ns\tx\n" +
			"\"p-nl\",\"two\nlines\",public,naver,\n",
			map[int]string{3: `bare " in non-quoted-field`, 4: "name holds a control character", 5: "name is not valid UTF-8",
				6: "project_id is 10242 bytes long, more than 256", 7: "namespace holds a control character", 8: "name holds a control character"}},
		{imports.KindInventory, "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n" +
			"G-1,nhn,s,n1,0,B200,government,1960-01-01T00:00:00Z,\n" +
			"G-2,nhn,s,n1,1,B200,government,2026-10-01T00:00:00Z,2200-01-01T00:00:00Z\n" +
			"G-3,nhn,s\x7f,n1,2,B200,government,2026-10-01T00:00:00Z,\n" +
			"G-4,nhn,s,n1,3,B200,gov\"ernment,2026-10-01T00:00:00Z,\n",
			map[int]string{2: `valid_from "1960-01-01T00:00:00Z" is outside 1970–2105`, 3: `valid_to "2200-01-01T00:00:00Z" is outside 1970–2105`,
				4: "site holds a control character", 5: `bare " in non-quoted-field`}},
		{imports.KindAllocations, "allocation_id,project_id,gpu_uuid,node,start,end\n" +
			"a1,p,G,,1969-12-31T23:59:59Z,\n" +
			"a2,p,G\xc3,,2026-10-01T00:00:00Z,\n",
			map[int]string{2: "outside 1970–2105", 3: "gpu_uuid is not valid UTF-8"}},
		{imports.KindSamples, strings.Join(imports.SampleColumns, ",") + "\n" +
			"1960-01-01T00:00:00Z,G,h,50,,,,,,,,\n" +
			"2200-01-01T00:00:00Z,G,h,50,,,,,,,,\n" +
			"2026-10-01T00:00:00Z,G,h\x01,50,,,,,,,,\n" +
			"2026-10-01T00:00:15Z,G,h,50,,,,,,,\"ns,\n",
			map[int]string{2: "outside 1970–2105", 3: "outside 1970–2105", 4: "hostname holds a control character", 5: `extraneous or missing " in quoted-field`}},
	}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := &imports.Importer{Store: st}
		for _, c := range cases {
			wantRejected(t, im, c.kind, writeFile(t, c.kind+".csv", c.content), c.lines)
		}
	})
}

// A file with a header and no rows imports nothing and says so; it is not
// mistaken for an earlier import of the same file.
func TestHeaderOnlyHoldsNoRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		im := &imports.Importer{Store: st}
		before := snapshot(t, st)
		for _, kind := range imports.Kinds {
			header := map[string]string{
				imports.KindInventory:   "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to",
				imports.KindProjects:    "project_id,name,kind,provider,namespace",
				imports.KindAllocations: "allocation_id,project_id,gpu_uuid,node,start,end",
				imports.KindSamples:     strings.Join(imports.SampleColumns, ","),
			}[kind]
			res, err := im.Import(context.Background(), kind, writeFile(t, kind+".csv", header+"\n"))
			if err != nil || !res.Empty || res.Unchanged || res.Rows != 0 {
				t.Errorf("%s header only: %+v, %v", kind, res, err)
			}
		}
		if after := snapshot(t, st); after != before {
			t.Errorf("a header-only file changed the store: %s -> %s", before, after)
		}
	})
}
