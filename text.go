package gpumeter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextFault says what makes s no text a person or an exporter writes in a
// name, or "" if nothing does: invalid UTF-8, or a control character (a line
// break included). Imports, pushes and scrapes refuse such values alike.
func TextFault(s string) string {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return fmt.Sprintf("holds a control character (%U at byte %d)", rune(b), i)
		} else if b >= 0x80 {
			return textFaultSlow(s)
		}
	}
	return ""
}

func textFaultSlow(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Sprintf("holds a control character (%U at byte %d)", []rune(s[i:])[0], i)
	}
	return ""
}
