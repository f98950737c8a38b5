package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

//go:embed openapi.json
var openAPI []byte

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Who may call what (SPEC §8).
var (
	readers    = []string{config.RoleNIPA, config.RoleProvider}
	flagRoles  = []string{config.RoleNIPA, config.RoleProvider, config.RolePortal}
	everyone   = []string{config.RoleNIPA, config.RoleProvider, config.RolePortal, config.RoleIngest}
	nipaOnly   = []string{config.RoleNIPA}
	retryAfter = 5 * time.Second
)

// apiError is an answer that is not the thing asked for: a status and a
// short message that carries nothing of the server's insides.
type apiError struct {
	status int
	msg    string
}

func (e apiError) Error() string { return e.msg }

// Handler is the HTTP API and login. Its reads never write and never wait for
// a scheduled job: they serve ledgers built in the background.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Ping(r.Context(), s.Store); err != nil {
			s.Log.Error("health check", zap.Error(err))
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry})
	mux.Handle("GET /metrics", s.with(nipaOnly, func(w http.ResponseWriter, r *http.Request, _ config.Principal) error {
		metrics.ServeHTTP(w, r)
		return nil
	}))
	mux.Handle("GET /api/v1/openapi.json", s.with(everyone, func(w http.ResponseWriter, r *http.Request, _ config.Principal) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(openAPI)
		return err
	}))
	mux.Handle("GET /api/v1/reports/{file}", s.with(readers, s.report))
	mux.Handle("GET /api/v1/limits", s.with(readers, s.limits))
	mux.Handle("GET /api/v1/idle", s.with(flagRoles, s.idle))
	return s.logged(mux)
}

// with lets the principals of roles call h: no or an unknown principal is
// 401, a known one of another role 403. h's apiError becomes its status,
// any other error a 500 that says no more.
func (s *Service) with(roles []string, h func(http.ResponseWriter, *http.Request, config.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.principals.fromRequest(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gpumeter"`)
			writeError(w, apiError{http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in"})
			return
		}
		setPrincipal(r, p)
		if !slices.Contains(roles, p.Role) {
			writeError(w, apiError{http.StatusForbidden, "role " + p.Role + " may not see this"})
			return
		}
		if err := h(w, r, p); err != nil {
			var ae apiError
			if !errors.As(err, &ae) {
				s.Log.Error("request failed", zap.String("path", r.URL.Path), zap.String("principal", p.Name),
					zap.String("error", store.Redact(err.Error())))
				ae = apiError{http.StatusInternalServerError, "internal error"}
			}
			writeError(w, ae)
		}
	})
}

func writeError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"error": e.msg})
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// scope is the provider a caller's answer covers: a provider principal its
// own (asking for another is 403, never a filtered answer), the others every
// provider or the one ?provider= names.
func (s *Service) scope(r *http.Request, p config.Principal) (string, error) {
	asked := r.URL.Query().Get("provider")
	if p.Role == config.RoleProvider || p.Role == config.RoleIngest {
		if asked != "" && asked != p.Provider {
			return "", apiError{http.StatusForbidden, "principal " + p.Name + " sees provider " + p.Provider + " only"}
		}
		return p.Provider, nil
	}
	if _, ok := s.Config.Providers[asked]; asked != "" && !ok {
		return "", apiError{http.StatusBadRequest, fmt.Sprintf("provider %q is not configured", asked)}
	}
	return asked, nil
}

// ledger is the ledger of a month, which must have begun, in the caller's
// scope; or an apiError: 400 for a malformed month, 202 while the month is
// first built.
func (s *Service) ledger(w http.ResponseWriter, r *http.Request, p config.Principal, month string) (*ledger.Ledger, string, error) {
	if !monthPattern.MatchString(month) {
		return nil, "", apiError{http.StatusBadRequest, fmt.Sprintf("month %q: want YYYY-MM", month)}
	}
	if _, _, err := ledger.Period(month, s.Config.Location(), time.Now()); err != nil {
		return nil, "", apiError{http.StatusBadRequest, err.Error()}
	}
	provider, err := s.scope(r, p)
	if err != nil {
		return nil, "", err
	}
	l, ready, err := s.months.get(month, provider)
	if err != nil {
		return nil, "", err
	}
	if !ready {
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())))
		return nil, "", apiError{http.StatusAccepted, "month " + month + " is being built: ask again shortly"}
	}
	return l, provider, nil
}

func (s *Service) report(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	file := r.PathValue("file")
	month, format, _ := strings.Cut(file, ".")
	if format != "json" && format != "xlsx" {
		return apiError{http.StatusNotFound, "reports are YYYY-MM.json and YYYY-MM.xlsx"}
	}
	l, provider, err := s.ledger(w, r, p, month)
	if err != nil {
		return err
	}
	if format == "json" {
		return writeJSON(w, reports.JSON(l))
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "ko"
	}
	if lang != "ko" && lang != "en" {
		return apiError{http.StatusBadRequest, fmt.Sprintf("lang %q: want ko or en", lang)}
	}
	var buf bytes.Buffer
	if err := reports.WriteWorkbook(&buf, l, reports.WorkbookOptions{Lang: lang, Version: s.Version,
		Config: publish.ConfigText(s.Config, provider), Provider: provider}); err != nil {
		return err
	}
	name := "nipa-" + month
	if provider != "" {
		name = provider + "-" + month
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
	_, err = w.Write(buf.Bytes())
	return err
}

// Limit is one provider's usage against its limits, as the API gives it.
type Limit struct {
	Provider   string              `json:"provider"`
	Checks     []LimitCheck        `json:"checks"`
	Violations []reports.Violation `json:"violations"`
}

// LimitCheck is one figure against its limit; limit is null where there is none.
type LimitCheck struct {
	Item   string   `json:"item"`
	Usage  float64  `json:"usage"`
	Limit  *float64 `json:"limit"`
	Status string   `json:"status"` // ok, over, no_cap, or "" for a figure without a limit
}

func (s *Service) limits(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	l, _, err := s.ledger(w, r, p, r.URL.Query().Get("month"))
	if err != nil {
		return err
	}
	rep := reports.JSON(l)
	out := []Limit{}
	for i, lp := range l.Providers {
		lim := Limit{Provider: lp.ID, Checks: []LimitCheck{}, Violations: rep.Providers[i].Violations}
		for _, c := range lp.Checks {
			lc := LimitCheck{Item: string(c.Item), Usage: c.Usage}
			if c.HasLimit {
				v := c.Limit
				lc.Limit, lc.Status = &v, "ok"
				switch {
				case c.Unlimited:
					lc.Status = "no_cap"
				case c.Over:
					lc.Status = "over"
				}
			}
			lim.Checks = append(lim.Checks, lc)
		}
		out = append(out, lim)
	}
	return writeJSON(w, out)
}

// Flag is an idle flag as the API gives it: SPEC §6's with its status.
type Flag struct {
	gpumeter.IdleFlag
	Status string `json:"status"`
}

func (s *Service) idle(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	provider, err := s.scope(r, p)
	if err != nil {
		return err
	}
	flags, err := s.flags.get(r.Context())
	if err != nil {
		return err
	}
	out := []Flag{}
	for _, f := range flags {
		if provider == "" || f.Provider == provider {
			out = append(out, Flag{IdleFlag: f, Status: "open"})
		}
	}
	return writeJSON(w, out)
}
