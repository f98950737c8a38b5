package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
)

// gate lets each principal call what its role may (SPEC §8), and logs
// every request with the principal's name.
type gate struct {
	principals *principals
	Log        *zap.Logger
}

type callerKey struct{}

// caller is where the request log learns who called.
type caller struct{ name string }

// logged logs every request with its principal's name (never its token).
func (s *gate) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &caller{name: "-"}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
		s.Log.Info("request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("principal", c.name), zap.Int("status", rec.status), zap.Duration("took", time.Since(start)))
	})
}

func setPrincipal(r *http.Request, p config.Principal) {
	if c, ok := r.Context().Value(callerKey{}).(*caller); ok {
		c.name = p.Name
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// login takes a token from the form field "token" and answers with a session
// cookie: HttpOnly, SameSite=Strict, Secure under TLS. A form from the
// dashboard names in "next" the page to go back to; without it the answer
// is JSON.
func (s *dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		writeError(w, apiError{http.StatusBadRequest, "want a form with a token field"})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	p, ok := s.principals.byToken(r.PostForm.Get("token"))
	if !ok {
		if next != "" {
			s.render(w, http.StatusUnauthorized, "login", &view{Lang: langOf(next), Page: dashPages[0], Failed: true, Back: next, loc: s.Config.Location()})
			return
		}
		writeError(w, apiError{http.StatusUnauthorized, "unknown token"})
		return
	}
	setPrincipal(r, p)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.principals.begin(p), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionLife.Seconds())})
	if next != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	writeJSON(w, map[string]string{"principal": p.Name, "role": p.Role, "provider": p.Provider})
}

func (s *dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.principals.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: -1})
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if next := localPath(r.FormValue("next")); next != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// localPath is p if it is a path on this server, else "": a form's "next"
// never sends anyone elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return p
}

func langOf(path string) string {
	if u, err := url.Parse(path); err == nil && u.Query().Get("lang") == "en" {
		return "en"
	}
	return "ko"
}
