// Package redact hides credentials in what gpumeter logs or shows: a tiny
// package of its own, so that configuration, logging and every backend can
// use it without depending on one another.
package redact

import "strings"

// Secrets hides the credentials of a DSN or URL, or of a message quoting
// one, so that it can be logged or shown (SPEC §8.3): the password of its user info, and the values of query parameters
// that carry secrets (password, token, key, secret). It errs towards hiding:
// an @ in a query makes all before it user info.
func Secrets(dsn string) string {
	scheme := strings.Index(dsn, "://")
	if scheme < 0 {
		return dsn
	}
	head, rest := dsn[:scheme+3], dsn[scheme+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		if colon := strings.Index(userinfo, ":"); colon >= 0 {
			userinfo = userinfo[:colon] + ":" + hidden
		}
		head, rest = head+userinfo+"@", rest[at+1:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return head + rest
	}
	// Parameters end at &, and at ; or a further ? that careless URLs use.
	var b strings.Builder
	b.WriteString(head + rest[:q+1])
	query := rest[q+1:]
	for query != "" {
		end := strings.IndexAny(query, "&;?")
		param, sep := query, ""
		if end >= 0 {
			param, sep, query = query[:end], query[end:end+1], query[end+1:]
		} else {
			query = ""
		}
		if k, _, ok := strings.Cut(param, "="); ok && secretParam(k) {
			param = k + "=" + hidden
		}
		b.WriteString(param + sep)
	}
	return b.String()
}

// hidden stands for a redacted secret.
const hidden = "xxxxx"

func secretParam(name string) bool {
	switch strings.ToLower(name) {
	case "password", "passwd", "pass", "token", "key", "secret", "access_token", "api_key":
		return true
	}
	return false
}
