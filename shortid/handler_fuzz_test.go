package shortid

import (
	"context"
	"encoding/json"
	"golang.org/x/time/rate"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzHandler sends random methods, paths, content types and bodies, each
// request three times to a fresh Handler with small buckets, so that limits
// are reached. The handler must never panic, must answer with a status it
// documents, every error must be a JSON object with a message and a code, a
// redirect must point at the stored URL of the key in the path, a created
// or described link must have a key, and a miss (404) repeated past the
// probe burst must be refused (429).
//
// The Shortener is made once per fuzzing process and shared by the inputs
// (links created by one input persist into the next); the Handler and its
// rate limits are new for every input, so the limits are deterministic.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a","custom_alias":"abc","ttl":"1h","max_visits":3}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a","ttl":1e400}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a"}{"url":"x"}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"\u0000","custom_alias":"\ud800"}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/a","url":"https://example.com/b"}`)
	f.Add("POST", "/shorten", "application/json", `{"URL":"https://example.com/a"}`)
	f.Add("POST", "/shorten", "application/json", `{"url":"https://example.com/once","max_visits":1}`)
	f.Add("POST", "/shorten", "text/plain", `url=x`)
	f.Add("POST", "/shorten", "application/json; charset=\"", `{}`)
	f.Add("GET", "/abc", "", "")
	f.Add("GET", "/abc/stats", "", "")
	f.Add("HEAD", "/abc", "", "")
	f.Add("HEAD", "/abc/stats/x", "", "")
	f.Add("GET", "/nosuch", "", "")
	f.Add("PUT", "/", "", "")
	f.Add("GET", "/%2e%2e/stats", "", "")
	f.Add("GET", "/ab%63", "", "")
	f.Add("OPTIONS", "/shorten", "", "")

	const probeBurst = 2

	fx := newHandlerFixture(f, HandlerOptions{})
	// One existing link and alias, so lookups can hit.
	fx.create(`{"url":"https://example.com/seed","custom_alias":"abc"}`)

	f.Fuzz(func(t *testing.T, method, path, ctype, body string) {
		if !validMethod(method) {
			return
		}
		h, err := NewHandler(fx.s, HandlerOptions{MaxBodyBytes: 512, Clock: fx.clock,
			ProbeLimit: rate.Every(time.Hour), ProbeBurst: probeBurst, CreateLimit: rate.Every(time.Hour), CreateBurst: probeBurst})
		if err != nil {
			t.Fatal(err)
		}
		u := &url.URL{Path: "/" + strings.TrimPrefix(path, "/")}
		first := 0
		for round := range probeBurst + 1 {
			req := httptest.NewRequest(method, "http://sho.rt/", strings.NewReader(body))
			req.URL = u
			req.RequestURI = u.RequestURI()
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if round == 0 {
				first = rec.Code
			}
			checkFuzzResponse(t, fx, method, u, rec)
			if round == probeBurst && first == http.StatusNotFound && rec.Code != http.StatusTooManyRequests {
				t.Fatalf("%s %q: miss %d past a burst of %d = %d, want 429", method, path, round+1, probeBurst, rec.Code)
			}
		}
	})
}

func checkFuzzResponse(t *testing.T, fx *handlerFixture, method string, u *url.URL, rec *httptest.ResponseRecorder) {
	t.Helper()
	path := u.Path
	if !allowedFuzzStatus[rec.Code] {
		t.Fatalf("%s %q: status %d (%s)", method, path, rec.Code, rec.Body)
	}
	switch {
	case rec.Code == http.StatusFound:
		key := strings.TrimPrefix(u.EscapedPath(), "/")
		stored, err := fx.s.store.Get(context.Background(), key)
		if err != nil {
			t.Fatalf("%s %q: 302 for key %q that the store lacks: %v", method, path, key, err)
		}
		loc := rec.Header().Get("Location")
		if want := locationOf(stored.Link.URL); loc != want {
			t.Fatalf("%s %q: Location %q, want %q", method, path, loc, want)
		}
		if dec, err := url.PathUnescape(loc); err == nil && !strings.Contains(stored.Link.URL, "%") && dec != stored.Link.URL {
			t.Fatalf("%s %q: Location %q does not decode to %q", method, path, loc, stored.Link.URL)
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
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %q: %d with body %q, want a JSON link", method, path, rec.Code, rec.Body)
		}
		if k, ok := v["key"].(string); !ok || k == "" {
			t.Fatalf("%s %q: %d with body %q, want a non-empty key", method, path, rec.Code, rec.Body)
		}
	}
}

var allowedFuzzStatus = map[int]bool{200: true, 201: true, 302: true, 400: true, 404: true, 405: true, 409: true,
	410: true, 413: true, 415: true, 429: true}

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
