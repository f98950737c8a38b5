package reports

import (
	"strings"
	"testing"
)

// Each language's definitions are whole sentences of that language, and
// every workbook word has both languages.
func TestDefinitionsAreWhole(t *testing.T) {
	for _, d := range definitions {
		ko, en := d[2], d[3]
		if !strings.HasSuffix(ko, ".") || !strings.HasSuffix(en, ".") {
			t.Errorf("%s: %q / %q do not end as sentences", d[1], ko, en)
		}
		if strings.ContainsAny(en, "가나다라마바사아자차카타파하의을를초") {
			t.Errorf("%s: English text holds Korean: %q", d[1], en)
		}
	}
	for key, v := range texts {
		if v[0] == "" || v[1] == "" {
			t.Errorf("%s lacks a language: %q", key, v)
		}
	}
}
