package shortid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler sends random methods, paths, content types and bodies. The
// handler must never panic, must answer with a status it documents, and
// every error must be a JSON object with a message and a code.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a","custom_alias":"abc","ttl":"1h","max_visits":3}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a","ttl":1e400}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a"}{"url":"x"}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"\u0000","custom_alias":"\ud800"}`)
	f.Add("POST", "/shorten", "text/plain", `url=x`)
	f.Add("POST", "/shorten", "application/json; charset=\"", `{}`)
	f.Add("GET", "/abc", "", "")
	f.Add("GET", "/abc/stats", "", "")
	f.Add("HEAD", "/abc/stats/x", "", "")
	f.Add("PUT", "/", "", "")
	f.Add("GET", "/%2e%2e/stats", "", "")
	f.Add("OPTIONS", "/shorten", "", "")

	allowed := map[int]bool{200: true, 201: true, 302: true, 400: true, 404: true, 405: true, 409: true,
		410: true, 413: true, 415: true, 429: true}

	f.Fuzz(func(t *testing.T, method, path, ctype, body string) {
		if !validMethod(method) {
			return
		}
		fx := newHandlerFixture(t, HandlerOptions{MaxBodyBytes: 512})
		// One existing link and alias, so lookups can hit.
		fx.create(`{"url":"https://example.com/seed","custom_alias":"abc"}`)

		u := &url.URL{Path: "/" + strings.TrimPrefix(path, "/")}
		req := httptest.NewRequest(method, "http://sho.rt/", strings.NewReader(body))
		req.URL = u
		req.RequestURI = u.RequestURI()
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)

		if !allowed[rec.Code] {
			t.Fatalf("%s %q: status %d (%s)", method, path, rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusFound:
			if rec.Header().Get("Location") == "" {
				t.Fatalf("%s %q: 302 without Location", method, path)
			}
		case rec.Code >= 400:
			var e errorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Error == "" {
				t.Fatalf("%s %q: %d with body %q, want a JSON error", method, path, rec.Code, rec.Body)
			}
			if rec.Code == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Fatalf("%s %q: 405 without Allow", method, path)
			}
		default:
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["key"] == "" {
				t.Fatalf("%s %q: %d with body %q, want a JSON link", method, path, rec.Code, rec.Body)
			}
		}
	})
}

// validMethod reports whether m is an HTTP token, as a server would accept.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
