package reports

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change is one figure that differs from the previous issue.
type Change struct {
	Path string // e.g. providers[nhn].hours.government.no_data
	Was  string // "" when the figure is new
	Now  string // "" when the figure is gone
}

// Diff lists the figures that differ between two issues of a report; the
// generation time and input hash are not figures.
func Diff(old, cur *Report) []Change {
	a, b := flatten(old), flatten(cur)
	var out []Change
	for path, v := range b {
		if a[path] != v {
			out = append(out, Change{Path: path, Was: a[path], Now: v})
		}
	}
	for path, v := range a {
		if _, ok := b[path]; !ok {
			out = append(out, Change{Path: path, Was: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func flatten(r *Report) map[string]string {
	data, _ := json.Marshal(r)
	var v any
	json.Unmarshal(data, &v)
	m := v.(map[string]any)
	delete(m, "generated_at")
	delete(m, "inputs_sha256")
	out := map[string]string{}
	walk("", m, out)
	return out
}

// walk flattens JSON, naming array elements by their identity (provider,
// project, flag, violation, charge) so that a reordering is no change.
func walk(path string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(join(path, k), e, out)
		}
	case []any:
		for i, e := range x {
			walk(fmt.Sprintf("%s[%s]", path, identity(e, i)), e, out)
		}
	default:
		out[path] = fmt.Sprint(x)
	}
}

func identity(v any, i int) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	for _, keys := range [][]string{{"flag_id"}, {"project_id"}, {"provider"}, {"kind", "gpu_uuid", "from"}, {"class", "model"}} {
		var parts []string
		for _, k := range keys {
			if s, ok := m[k]; ok {
				parts = append(parts, fmt.Sprint(s))
			}
		}
		if len(parts) == len(keys) {
			return strings.Join(parts, " ")
		}
	}
	return fmt.Sprint(i)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
