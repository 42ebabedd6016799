package shortid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// handlerClock is a settable Clock for the handler's tests.
type handlerClock struct {
	mu  sync.Mutex
	now time.Time
}

func newHandlerClock() *handlerClock {
	return &handlerClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *handlerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handlerClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// handlerFixture is a Handler on a fresh in-memory Shortener.
type handlerFixture struct {
	t     testing.TB
	clock *handlerClock
	s     *Shortener
	h     *Handler
}

func newHandlerFixture(t testing.TB, opts HandlerOptions) *handlerFixture {
	t.Helper()
	clock := newHandlerClock()
	s, err := New(NewMemStore(), Options{BaseURL: "https://sho.rt", Clock: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if opts.Clock == nil {
		opts.Clock = clock
	}
	h, err := NewHandler(s, opts)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return &handlerFixture{t: t, clock: clock, s: s, h: h}
}

// do serves one request from remote addr "192.0.2.1:1234" unless a
// RemoteAddr is given through mod.
func (f *handlerFixture) do(method, target, body string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, m := range mod {
		m(req)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func from(addr string) func(*http.Request) {
	return func(r *http.Request) { r.RemoteAddr = addr }
}

func withHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// create posts body and decodes the created link, failing unless the
// status is 201.
func (f *handlerFixture) create(body string) linkResponse {
	f.t.Helper()
	rec := f.do(http.MethodPost, "/shorten", body)
	if rec.Code != http.StatusCreated {
		f.t.Fatalf("POST /shorten %s = %d %s, want 201", body, rec.Code, rec.Body)
	}
	wantJSONHeaders(f.t, rec)
	var resp linkResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		f.t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return resp
}

// wantJSONHeaders checks the headers of every JSON response.
func wantJSONHeaders(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}

// wantError checks that rec is a JSON error with status and code.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d (%s), want %d", rec.Code, rec.Body, status)
	}
	wantJSONHeaders(t, rec)
	var e errorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	if e.Code != code || e.Error == "" {
		t.Errorf("error = %+v, want code %q and a message", e, code)
	}
}

func TestHandlerCreateFollowStats(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	link := f.create(`{"url": "https://example.com/a?b=c"}`)
	if link.OriginalURL != "https://example.com/a?b=c" || link.Key == "" ||
		link.ShortURL != "https://sho.rt/"+link.Key || link.ExpiresAt != nil || link.MaxVisits != 0 || link.Alias {
		t.Fatalf("created %+v", link)
	}
	if !link.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("created_at = %v, want %v", link.CreatedAt, f.clock.Now())
	}

	// The same plain URL again returns the same link, with 200.
	f.clock.Advance(time.Minute)
	rec := f.do(http.MethodPost, "/shorten", `{"url": "https://example.com/a?b=c"}`)
	var again linkResponse
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &again) != nil {
		t.Fatalf("dedup: %d %s, want 200 with the link", rec.Code, rec.Body)
	}
	if again.Key != link.Key || !again.CreatedAt.Equal(link.CreatedAt) {
		t.Errorf("dedup: %+v, want key %q created %v", again, link.Key, link.CreatedAt)
	}
	wantJSONHeaders(t, rec)
	// A request with a TTL is never deduplicated: 201.
	if l := f.create(`{"url": "https://example.com/a?b=c", "ttl": 60}`); l.Key == link.Key {
		t.Errorf("a TTL link reused the plain link's key")
	}

	for i := range 3 {
		method := http.MethodGet
		if i == 2 {
			method = http.MethodHead
		}
		rec := f.do(method, "/"+link.Key, "")
		if rec.Code != http.StatusFound {
			t.Fatalf("%s /%s = %d %s, want 302", method, link.Key, rec.Code, rec.Body)
		}
		if loc := rec.Header().Get("Location"); loc != link.OriginalURL {
			t.Errorf("Location = %q, want %q", loc, link.OriginalURL)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
	}

	rec = f.do(http.MethodGet, "/"+link.Key+"/stats", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("stats = %d %s", rec.Code, rec.Body)
	}
	wantJSONHeaders(t, rec)
	var st statsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Key != link.Key || st.OriginalURL != link.OriginalURL || st.Clicks != 2 {
		t.Errorf("stats = %+v, want key %s and 2 clicks (the HEAD is none)", st, link.Key)
	}
}

// TestHandlerHeadOfLimitedLinkIsAVisit checks that a HEAD of a link with
// max_visits is answered like the GET it stands for (RFC 9110, 9.3.2): it
// shows the target in Location, so it uses a visit and counts a click. It
// used Lookup, and so revealed a one-time link's target any number of
// times while leaving its visit for later. A HEAD of an unlimited link
// still counts nothing.
func TestHandlerHeadOfLimitedLinkIsAVisit(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	once := f.create(`{"url": "https://example.com/once", "max_visits": 1}`)
	rec := f.do(http.MethodHead, "/"+once.Key, "")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != once.OriginalURL {
		t.Fatalf("HEAD = %d %q, want 302 to the link", rec.Code, rec.Header().Get("Location"))
	}
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		rec := f.do(method, "/"+once.Key, "")
		wantError(t, rec, http.StatusGone, "gone")
		if loc := rec.Header().Get("Location"); loc != "" {
			t.Errorf("%s of a used one-time link: Location %q", method, loc)
		}
	}

	twice := f.create(`{"url": "https://example.com/twice", "max_visits": 2}`)
	f.do(http.MethodHead, "/"+twice.Key, "")
	var st statsResponse
	if rec := f.do(http.MethodGet, "/"+twice.Key+"/stats", ""); json.Unmarshal(rec.Body.Bytes(), &st) != nil ||
		st.Clicks != 1 || st.Remaining == nil || *st.Remaining != 1 {
		t.Fatalf("stats after a HEAD = %s, want 1 click and remaining_visits 1", rec.Body)
	}

	plain := f.create(`{"url": "https://example.com/plain"}`)
	for range 3 {
		if rec := f.do(http.MethodHead, "/"+plain.Key, ""); rec.Code != http.StatusFound || rec.Header().Get("Location") != plain.OriginalURL {
			t.Fatalf("HEAD of a plain link = %d %q, want 302 to it", rec.Code, rec.Header().Get("Location"))
		}
	}
	if rec := f.do(http.MethodGet, "/"+plain.Key+"/stats", ""); json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Clicks != 0 {
		t.Fatalf("stats of a plain link after HEADs = %s, want 0 clicks", rec.Body)
	}

	timed := f.create(`{"url": "https://example.com/timed", "ttl": 5}`)
	f.clock.Advance(5 * time.Second)
	wantError(t, f.do(http.MethodHead, "/"+timed.Key, ""), http.StatusGone, "gone")
	wantError(t, f.do(http.MethodHead, "/nosuch", ""), http.StatusNotFound, "not_found")
}

// TestHandlerStatsHidesLimitedTarget checks that GET /{key}/stats, which
// anyone who knows the key may ask, leaves out original_url for a link
// with max_visits: it showed a one-time link's target without using its
// visit, as often as asked. Other links' stats show it, as their redirect
// does.
func TestHandlerStatsHidesLimitedTarget(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	once := f.create(`{"url": "https://example.com/secret", "max_visits": 1}`)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := f.do(method, "/"+once.Key+"/stats", "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "example.com") {
			t.Fatalf("%s stats of a one-time link = %d %s, want 200 without its target", method, rec.Code, rec.Body)
		}
		var st statsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Key != once.Key || st.MaxVisits != 1 ||
			st.Remaining == nil || *st.Remaining != 1 {
			t.Fatalf("%s stats of a one-time link = %s, want its key, max_visits and remaining_visits", method, rec.Body)
		}
	}
	if rec := f.do(http.MethodGet, "/"+once.Key, ""); rec.Header().Get("Location") != "https://example.com/secret" {
		t.Fatalf("the one visit after stats: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	timed := f.create(`{"url": "https://example.com/timed", "ttl": 60}`)
	var st statsResponse
	if rec := f.do(http.MethodGet, "/"+timed.Key+"/stats", ""); json.Unmarshal(rec.Body.Bytes(), &st) != nil ||
		st.OriginalURL != timed.OriginalURL {
		t.Fatalf("stats of a TTL link = %s, want original_url %q", rec.Body, timed.OriginalURL)
	}
}

// routeKeys is a KeySource that hands out fixed keys.
type routeKeys struct {
	mu   sync.Mutex
	keys []string
}

func (k *routeKeys) AppendKey(_ context.Context, dst []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return dst, errors.New("out of keys")
	}
	key := k.keys[0]
	k.keys = k.keys[1:]
	return append(dst, key...), nil
}

// TestHandlerRouteNeverAKey checks that with nothing in Options.Reserved a
// link still never gets the key "shorten", which GET /shorten cannot reach
// (it answered 405), while "stats", a route only after a key, is an
// ordinary key: GET /stats follows it and GET /stats/stats describes it.
func TestHandlerRouteNeverAKey(t *testing.T) {
	keys := &routeKeys{keys: []string{"shorten", "abcdefg"}}
	s, err := New(NewMemStore(), Options{Reserved: []string{}, Keys: keys, FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := NewHandler(s, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &handlerFixture{t: t, s: s, h: h}
	l := f.create(`{"url": "https://example.com/gen"}`)
	if rec := f.do(http.MethodGet, "/"+l.Key, ""); rec.Code != http.StatusFound {
		t.Fatalf("generated key %q: GET /%s = %d %s, want 302", l.Key, l.Key, rec.Code, rec.Body)
	}
	wantError(t, f.do(http.MethodPost, "/shorten", `{"url": "https://example.com/a", "custom_alias": "shorten"}`),
		http.StatusBadRequest, "reserved_alias")

	f.create(`{"url": "https://example.com/stats", "custom_alias": "stats"}`)
	if rec := f.do(http.MethodGet, "/stats", ""); rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://example.com/stats" {
		t.Fatalf("GET /stats = %d %q, want 302 to the alias's URL", rec.Code, rec.Header().Get("Location"))
	}
	var st statsResponse
	if rec := f.do(http.MethodGet, "/stats/stats", ""); rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Clicks != 1 {
		t.Fatalf("GET /stats/stats = %d %s, want 200 with 1 click", rec.Code, rec.Body)
	}
}

func TestHandlerAliasTTLMaxVisits(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	alias := f.create(`{"url": "https://example.com/launch", "custom_alias": "launch-2026"}`)
	if alias.Key != "launch-2026" || !alias.Alias {
		t.Fatalf("alias = %+v", alias)
	}
	wantError(t, f.do(http.MethodPost, "/shorten", `{"url": "https://example.org/", "custom_alias": "launch-2026"}`),
		http.StatusConflict, "alias_taken")

	for _, ttl := range []string{`90`, `"1m30s"`, `90.0`, `9e1`, `90.0000000001`} {
		l := f.create(`{"url": "https://example.com/ttl", "ttl": ` + ttl + `}`)
		if l.ExpiresAt == nil || !l.ExpiresAt.Equal(f.clock.Now().Add(90*time.Second)) {
			t.Errorf("ttl %s: expires_at = %v, want now+90s", ttl, l.ExpiresAt)
		}
	}
	// Every spelling of zero means no expiry.
	for i, ttl := range []string{`0`, `-0`, `0.0`, `0e5`, `0E-400`, `"0s"`, `"0"`, `"-0s"`, `null`} {
		if l := f.create(fmt.Sprintf(`{"url": "https://example.com/zero%d", "ttl": %s}`, i, ttl)); l.ExpiresAt != nil {
			t.Errorf("ttl %s: expires_at = %v, want none", ttl, l.ExpiresAt)
		}
	}
	short := f.create(`{"url": "https://example.com/short", "ttl": "10s"}`)
	if rec := f.do(http.MethodGet, "/"+short.Key, ""); rec.Code != http.StatusFound {
		t.Fatalf("before expiry: %d", rec.Code)
	}
	f.clock.Advance(10 * time.Second)
	wantError(t, f.do(http.MethodGet, "/"+short.Key, ""), http.StatusGone, "gone")

	capped := f.create(`{"url": "https://example.com/twice", "max_visits": 2}`)
	if capped.MaxVisits != 2 {
		t.Errorf("max_visits = %d, want 2", capped.MaxVisits)
	}
	for i := range 2 {
		if rec := f.do(http.MethodGet, "/"+capped.Key, ""); rec.Code != http.StatusFound {
			t.Fatalf("visit: %d %s", rec.Code, rec.Body)
		}
		if i == 0 {
			rec := f.do(http.MethodGet, "/"+capped.Key+"/stats", "")
			var st statsResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Remaining == nil || *st.Remaining != 1 || st.Clicks != 1 {
				t.Errorf("stats after one visit = %s, want 1 click and remaining_visits 1", rec.Body)
			}
		}
	}
	wantError(t, f.do(http.MethodGet, "/"+capped.Key, ""), http.StatusGone, "gone")
	wantError(t, f.do(http.MethodGet, "/"+capped.Key+"/stats", ""), http.StatusGone, "gone")
}

func TestHandlerErrors(t *testing.T) {
	tests := []struct {
		name, method, target, ctype, body string
		status                            int
		code                              string
	}{
		{"unknown key", "GET", "/nosuch", "", "", 404, "not_found"},
		{"unknown stats", "GET", "/nosuch/stats", "", "", 404, "not_found"},
		{"root", "GET", "/", "", "", 404, "not_found"},
		{"deep path", "GET", "/a/b/c", "", "", 404, "not_found"},
		{"trailing slash", "GET", "/abc/", "", "", 404, "not_found"},
		{"non-key characters", "GET", "/a.b", "", "", 404, "not_found"},
		{"overlong key", "GET", "/" + strings.Repeat("k", 65), "", "", 404, "not_found"},
		{"GET shorten", "GET", "/shorten", "", "", 405, "method_not_allowed"},
		{"DELETE key", "DELETE", "/abc", "", "", 405, "method_not_allowed"},
		{"POST stats", "POST", "/abc/stats", "application/json", "{}", 405, "method_not_allowed"},
		{"form body", "POST", "/shorten", "application/x-www-form-urlencoded", "url=x", 415, "unsupported_media_type"},
		{"text body", "POST", "/shorten", "text/plain", `{"url":"https://a.example/"}`, 415, "unsupported_media_type"},
		{"no content type", "POST", "/shorten", "", `{"url":"https://a.example/"}`, 415, "unsupported_media_type"},
		{"empty body", "POST", "/shorten", "application/json", "", 400, "invalid_json"},
		{"not JSON", "POST", "/shorten", "application/json", "url=https://a.example/", 400, "invalid_json"},
		{"array", "POST", "/shorten", "application/json", `["https://a.example/"]`, 400, "invalid_json"},
		{"unknown field", "POST", "/shorten", "application/json", `{"url":"https://a.example/","custom_alais":"x"}`, 400, "invalid_json"},
		{"field name in other case", "POST", "/shorten", "application/json", `{"URL":"https://a.example/"}`, 400, "invalid_json"},
		{"alias in other case", "POST", "/shorten", "application/json", `{"url":"https://a.example/","Custom_Alias":"x"}`, 400, "invalid_json"},
		{"duplicate url", "POST", "/shorten", "application/json", `{"url":"https://a.example/","url":"https://b.example/"}`, 400, "invalid_json"},
		{"duplicate ttl", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":60,"ttl":null}`, 400, "invalid_json"},
		{"string body", "POST", "/shorten", "application/json", `"https://a.example/"`, 400, "invalid_json"},
		{"unclosed object", "POST", "/shorten", "application/json", `{"url":"https://a.example/"`, 400, "invalid_json"},
		{"trailing object", "POST", "/shorten", "application/json", `{"url":"https://a.example/"}{}`, 400, "invalid_json"},
		{"trailing junk", "POST", "/shorten", "application/json", `{"url":"https://a.example/"} x`, 400, "invalid_json"},
		{"truncated", "POST", "/shorten", "application/json", `{"url":"https://a.exa`, 400, "invalid_json"},
		{"url number", "POST", "/shorten", "application/json", `{"url":42}`, 400, "invalid_json"},
		{"max_visits string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","max_visits":"3"}`, 400, "invalid_json"},
		{"max_visits fraction", "POST", "/shorten", "application/json", `{"url":"https://a.example/","max_visits":1.5}`, 400, "invalid_json"},
		{"max_visits huge", "POST", "/shorten", "application/json", `{"url":"https://a.example/","max_visits":1e30}`, 400, "invalid_json"},
		{"max_visits negative", "POST", "/shorten", "application/json", `{"url":"https://a.example/","max_visits":-1}`, 400, "invalid_request"},
		{"ttl negative", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":-5}`, 400, "invalid_request"},
		{"ttl negative string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"-5s"}`, 400, "invalid_request"},
		{"ttl huge", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":1e300}`, 400, "invalid_request"},
		{"ttl huge string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"9999999999h"}`, 400, "invalid_request"},
		{"ttl tiny", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":1e-10}`, 400, "invalid_request"},
		{"ttl under a second", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":0.999}`, 400, "invalid_request"},
		{"ttl 1ns string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"1ns"}`, 400, "invalid_request"},
		{"ttl 999ms string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"999ms"}`, 400, "invalid_request"},
		{"ttl negative zero fraction", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":-1e-10}`, 400, "invalid_request"},
		// Literals whose value rounds to zero are not "never expires".
		{"ttl underflows to zero", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":1e-400}`, 400, "invalid_request"},
		{"ttl negative underflow", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":-0.5e-330}`, 400, "invalid_request"},
		{"ttl sub-nanosecond string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"0.1ns"}`, 400, "invalid_request"},
		{"ttl sub-nanosecond seconds string", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"0.0000000001s"}`, 400, "invalid_request"},
		{"ttl max seconds", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":9223372036.9}`, 400, "invalid_request"},
		{"ttl garbage", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":"soon"}`, 400, "invalid_request"},
		{"ttl object", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":{}}`, 400, "invalid_request"},
		{"ttl bool", "POST", "/shorten", "application/json", `{"url":"https://a.example/","ttl":true}`, 400, "invalid_request"},
		{"missing url", "POST", "/shorten", "application/json", `{}`, 400, "invalid_url"},
		{"javascript url", "POST", "/shorten", "application/json", `{"url":"javascript:alert(1)"}`, 400, "invalid_url"},
		{"bad alias", "POST", "/shorten", "application/json", `{"url":"https://a.example/","custom_alias":"a/b"}`, 400, "invalid_alias"},
		{"reserved alias", "POST", "/shorten", "application/json", `{"url":"https://a.example/","custom_alias":"admin"}`, 400, "reserved_alias"},
		{"route alias", "POST", "/shorten", "application/json", `{"url":"https://a.example/","custom_alias":"Shorten"}`, 400, "reserved_alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandlerFixture(t, HandlerOptions{})
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			wantError(t, rec, tt.status, tt.code)
			if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestHandlerLocationEscaped(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	for _, tt := range []struct{ url, want string }{
		{"https://example.com/a?b=c#d", "https://example.com/a?b=c#d"},
		{"https://example.com/caf\u00e9?q=\u65e5", "https://example.com/caf%C3%A9?q=%E6%97%A5"},
		{"https://example.com/x?q=\"<b>\"", "https://example.com/x?q=%22%3Cb%3E%22"},
		{"https://example.com/{a}|^`", "https://example.com/%7Ba%7D%7C%5E%60"},
		{"https://example.com/%C3%A9", "https://example.com/%C3%A9"},
	} {
		body, _ := json.Marshal(map[string]string{"url": tt.url})
		l := f.create(string(body))
		rec := f.do(http.MethodGet, "/"+l.Key, "")
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tt.want {
			t.Errorf("%s: %d Location %q, want %q", tt.url, rec.Code, rec.Header().Get("Location"), tt.want)
		}
		for _, c := range rec.Header().Get("Location") {
			if c <= ' ' || c >= 0x7f {
				t.Errorf("%s: Location has %q", tt.url, c)
			}
		}
	}
	if got := testing.AllocsPerRun(100, func() { locationOf("https://example.com/plain") }); got != 0 {
		t.Errorf("locationOf allocates %v times for a plain URL", got)
	}
}

func TestHandlerRoutesOnEscapedPath(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	f.create(`{"url":"https://example.com/x","custom_alias":"launch"}`)
	if rec := f.do(http.MethodGet, "/launch", ""); rec.Code != http.StatusFound {
		t.Fatalf("GET /launch = %d", rec.Code)
	}
	for _, p := range []string{"/launch%2Fstats", "/%6caunch", "/launch%2fstats", "/launch/%73tats", "/%73horten", "/la%20unch"} {
		wantError(t, f.do(http.MethodGet, p, ""), http.StatusNotFound, "not_found")
	}
	wantError(t, f.do(http.MethodPost, "/%73horten", `{"url":"https://example.com/y"}`), http.StatusNotFound, "not_found")
	// They are probes: they use up the bucket like any miss.
	g := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
	wantError(t, g.do(http.MethodGet, "/%6caunch", ""), http.StatusNotFound, "not_found")
	retryAfter(t, g.do(http.MethodGet, "/%6caunch", ""))
}

func TestHandlerAcceptsJSONMediaTypes(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"} {
		body := fmt.Sprintf(`{"url": "https://example.com/%d"}`, i)
		rec := f.do(http.MethodPost, "/shorten", body, withHeader("Content-Type", ct))
		if rec.Code != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
}

func TestHandlerOversizedBody(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{MaxBodyBytes: 256})
	big := `{"url": "https://example.com/` + strings.Repeat("a", 300) + `"}`

	// Declared by Content-Length: refused before reading.
	wantError(t, f.do(http.MethodPost, "/shorten", big), http.StatusRequestEntityTooLarge, "body_too_large")

	// Streamed without a length: cut off while decoding.
	rec := f.do(http.MethodPost, "/shorten", big, func(r *http.Request) {
		r.ContentLength = -1
		r.Body = io.NopCloser(strings.NewReader(big))
	})
	wantError(t, rec, http.StatusRequestEntityTooLarge, "body_too_large")

	// Trailing whitespace past the limit after a valid object.
	padded := `{"url": "https://example.com/"}` + strings.Repeat(" ", 300)
	rec = f.do(http.MethodPost, "/shorten", padded, func(r *http.Request) { r.ContentLength = -1 })
	wantError(t, rec, http.StatusRequestEntityTooLarge, "body_too_large")

	// At the limit is fine.
	fits := `{"url": "https://example.com/` + strings.Repeat("a", 200) + `"}`
	if rec := f.do(http.MethodPost, "/shorten", fits); rec.Code != http.StatusCreated {
		t.Errorf("body of %d bytes: %d %s", len(fits), rec.Code, rec.Body)
	}
}

func TestHandlerRedirectStatus(t *testing.T) {
	if _, err := NewHandler(mustShortener(t), HandlerOptions{Redirect: http.StatusSeeOther}); !errors.Is(err, ErrInvalidHandlerOptions) {
		t.Errorf("Redirect 303: err = %v, want ErrInvalidHandlerOptions", err)
	}
	if _, err := NewHandler(mustShortener(t), HandlerOptions{MaxBodyBytes: -1}); !errors.Is(err, ErrInvalidHandlerOptions) {
		t.Errorf("MaxBodyBytes -1: err = %v, want ErrInvalidHandlerOptions", err)
	}
	tests := []struct {
		status          int
		body            string
		wantCache       string
		afterSecondsTTL time.Duration
	}{
		{301, `{"url":"https://example.com/p"}`, "public, max-age=86400", 0},
		{308, `{"url":"https://example.com/p"}`, "public, max-age=86400", 0},
		{301, `{"url":"https://example.com/t","ttl":"1h"}`, "public, max-age=3599", time.Second},
		{301, `{"url":"https://example.com/m","max_visits":5}`, "no-store", 0},
		{307, `{"url":"https://example.com/p"}`, "no-store", 0},
		{302, `{"url":"https://example.com/p"}`, "no-store", 0},
	}
	for _, tt := range tests {
		f := newHandlerFixture(t, HandlerOptions{Redirect: tt.status})
		link := f.create(tt.body)
		f.clock.Advance(tt.afterSecondsTTL)
		rec := f.do(http.MethodGet, "/"+link.Key, "")
		if rec.Code != tt.status {
			t.Errorf("%d %s: status %d", tt.status, tt.body, rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != tt.wantCache {
			t.Errorf("%d %s: Cache-Control %q, want %q", tt.status, tt.body, cc, tt.wantCache)
		}
	}
}

func mustShortener(t *testing.T) *Shortener {
	s, err := New(NewMemStore(), Options{BaseURL: "https://sho.rt"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func retryAfter(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	wantError(t, rec, http.StatusTooManyRequests, "rate_limited")
	n, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds ≥ 1", rec.Header().Get("Retry-After"))
	}
	return n
}

func TestHandlerCreateLimit(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{CreateLimit: rate.Every(4 * time.Second), CreateBurst: 3})
	post := func(i int, mod ...func(*http.Request)) *httptest.ResponseRecorder {
		return f.do(http.MethodPost, "/shorten", fmt.Sprintf(`{"url":"https://example.com/%d"}`, i), mod...)
	}
	for i := range 3 {
		if rec := post(i); rec.Code != http.StatusCreated {
			t.Fatalf("create %d within burst: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := retryAfter(t, post(3)); n != 4 {
		t.Errorf("Retry-After = %d, want 4", n)
	}
	// Another IP has its own bucket. Without APIKeyHeader configured, an
	// API key header changes nothing: the client is still its IP.
	if rec := post(4, from("198.51.100.7:999")); rec.Code != http.StatusCreated {
		t.Errorf("other IP: %d", rec.Code)
	}
	retryAfter(t, post(5, withHeader("X-Api-Key", "k1")))

	f.clock.Advance(3 * time.Second)
	if n := retryAfter(t, post(6)); n != 1 {
		t.Errorf("after 3s: Retry-After = %d, want 1", n)
	}
	f.clock.Advance(time.Second)
	if rec := post(7); rec.Code != http.StatusCreated {
		t.Errorf("after refill: %d %s", rec.Code, rec.Body)
	}
	retryAfter(t, post(8))
}

func TestHandlerClientIdentity(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{CreateLimit: rate.Every(time.Hour), CreateBurst: 1, APIKeyHeader: "x-api-key",
		ValidAPIKey: func(k string) bool { return k == "alpha" || k == "beta" }})
	post := func(i int, mod ...func(*http.Request)) int {
		return f.do(http.MethodPost, "/shorten", fmt.Sprintf(`{"url":"https://example.com/%d"}`, i), mod...).Code
	}
	steps := []struct {
		name string
		mod  func(*http.Request)
		want int
	}{
		{"v6 first", from("[2001:db8:1:2::1]:80"), 201},
		{"v6 same /64", from("[2001:db8:1:2:ffff::9]:80"), 429},
		{"v6 other /64", from("[2001:db8:1:3::1]:80"), 201},
		{"v4", from("203.0.113.5:1"), 201},
		{"v4-mapped v6 of the same v4", from("[::ffff:203.0.113.5]:2"), 429},
		{"forwarded header is not trusted", func(r *http.Request) {
			r.RemoteAddr = "203.0.113.5:3"
			r.Header.Set("X-Forwarded-For", "192.0.2.200")
		}, 429},
		{"API key", func(r *http.Request) { r.RemoteAddr = "203.0.113.5:4"; r.Header.Set("X-API-Key", "alpha") }, 201},
		{"same API key elsewhere", func(r *http.Request) { r.RemoteAddr = "192.0.2.9:4"; r.Header.Set("X-API-Key", "alpha") }, 429},
		{"other API key", func(r *http.Request) { r.RemoteAddr = "203.0.113.5:4"; r.Header.Set("X-API-Key", "beta") }, 201},
		{"unknown API key counts as the IP", func(r *http.Request) { r.RemoteAddr = "203.0.113.5:4"; r.Header.Set("X-API-Key", "gamma") }, 429},
		{"unknown API key elsewhere", func(r *http.Request) { r.RemoteAddr = "203.0.113.6:4"; r.Header.Set("X-API-Key", "gamma") }, 201},
		{"that IP, other unknown key", func(r *http.Request) { r.RemoteAddr = "203.0.113.6:4"; r.Header.Set("X-API-Key", "delta") }, 429},
		{"address without port", from("192.0.2.77"), 201},
		{"same, with port", from("192.0.2.77:5"), 429},
	}
	for i, s := range steps {
		if got := post(i, s.mod); got != s.want {
			t.Errorf("%s: %d, want %d", s.name, got, s.want)
		}
	}

	// Without ValidAPIKey the header is ignored.
	u := newHandlerFixture(t, HandlerOptions{CreateLimit: rate.Every(time.Hour), CreateBurst: 1, APIKeyHeader: "X-API-Key"})
	for i, key := range []string{"a", "b"} {
		rec := u.do(http.MethodPost, "/shorten", fmt.Sprintf(`{"url":"https://example.com/%d"}`, i), withHeader("X-API-Key", key))
		if want := []int{201, 429}[i]; rec.Code != want {
			t.Errorf("unvalidated API key %q: %d, want %d", key, rec.Code, want)
		}
	}

	// A configured ClientIP replaces RemoteAddr.
	g := newHandlerFixture(t, HandlerOptions{CreateLimit: rate.Every(time.Hour), CreateBurst: 1,
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Real-Ip") }})
	post2 := func(ip, remote string) int {
		return g.do(http.MethodPost, "/shorten", `{"url":"https://example.com/x"}`, from(remote), withHeader("X-Real-IP", ip)).Code
	}
	if c := post2("192.0.2.1", "10.0.0.1:1"); c != 201 {
		t.Errorf("ClientIP first: %d", c)
	}
	if c := post2("192.0.2.1", "10.0.0.2:1"); c != 429 {
		t.Errorf("ClientIP same client other proxy: %d, want 429", c)
	}
	if c := post2("192.0.2.2", "10.0.0.1:1"); c != 200 {
		t.Errorf("ClientIP other client same proxy: %d, want 200 (not limited; the link exists)", c)
	}
}

func TestHandlerProbeLimit(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Every(10 * time.Second), ProbeBurst: 3})
	link := f.create(`{"url":"https://example.com/real"}`)
	other := from("198.51.100.1:1")

	for i := range 3 {
		wantError(t, f.do(http.MethodGet, fmt.Sprintf("/miss%d", i), ""), http.StatusNotFound, "not_found")
		if rec := f.do(http.MethodGet, "/"+link.Key, ""); rec.Code != http.StatusFound {
			t.Fatalf("hit while tokens remain: %d", rec.Code)
		}
	}
	if n := retryAfter(t, f.do(http.MethodGet, "/miss9", "")); n != 10 {
		t.Errorf("Retry-After = %d, want 10", n)
	}
	// Throttled: misses, misses of stats and odd paths are refused, but
	// hits keep working, so a guesser cannot lock out others behind its
	// address.
	retryAfter(t, f.do(http.MethodGet, "/miss/stats", ""))
	retryAfter(t, f.do(http.MethodGet, "/no.key", ""))
	retryAfter(t, f.do(http.MethodGet, "/"+link.Key+"/x", ""))
	if rec := f.do(http.MethodGet, "/"+link.Key, ""); rec.Code != http.StatusFound {
		t.Errorf("hit while throttled: %d, want 302", rec.Code)
	}
	if rec := f.do(http.MethodGet, "/"+link.Key+"/stats", ""); rec.Code != http.StatusOK {
		t.Errorf("stats of a hit while throttled: %d, want 200", rec.Code)
	}
	// Others are not affected.
	if rec := f.do(http.MethodGet, "/"+link.Key, "", other); rec.Code != http.StatusFound {
		t.Errorf("other client hit: %d", rec.Code)
	}
	wantError(t, f.do(http.MethodGet, "/miss", "", other), http.StatusNotFound, "not_found")
	// Creating is a separate budget.
	if rec := f.do(http.MethodPost, "/shorten", `{"url":"https://example.com/new"}`); rec.Code != http.StatusCreated {
		t.Errorf("create while probe-throttled: %d", rec.Code)
	}

	f.clock.Advance(10 * time.Second)
	if rec := f.do(http.MethodGet, "/"+link.Key, ""); rec.Code != http.StatusFound {
		t.Errorf("hit after refill: %d", rec.Code)
	}
	wantError(t, f.do(http.MethodGet, "/miss10", ""), http.StatusNotFound, "not_found")
	retryAfter(t, f.do(http.MethodGet, "/miss11", ""))

	// Every hit counted: 3 + 1 + 1 by the first client, 1 by the other.
	rec := f.do(http.MethodGet, "/"+link.Key+"/stats", "", other)
	var st statsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Clicks != 6 {
		t.Errorf("stats = %s (%v), want 6 clicks", rec.Body, err)
	}
}

func TestHandlerGoneIsNoProbe(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
	link := f.create(`{"url":"https://example.com/x","ttl":1}`)
	f.clock.Advance(time.Second)
	for range 3 {
		wantError(t, f.do(http.MethodGet, "/"+link.Key, ""), http.StatusGone, "gone")
	}
	wantError(t, f.do(http.MethodGet, "/nosuch", ""), http.StatusNotFound, "not_found")
}

func TestHandlerClientTableBounded(t *testing.T) {
	const maxClients = 64
	f := newHandlerFixture(t, HandlerOptions{MaxClients: maxClients, ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
	for i := range 5000 {
		addr := fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		wantError(t, f.do(http.MethodGet, "/nosuch", "", from(addr)), http.StatusNotFound, "not_found")
		if n := f.h.limits.len(); n > maxClients {
			t.Fatalf("after %d clients the table holds %d, want ≤ %d", i+1, n, maxClients)
		}
	}
	// The flood pushed out the first client: it starts with a fresh bucket.
	wantError(t, f.do(http.MethodGet, "/nosuch", "", from("10.0.0.0:1")), http.StatusNotFound, "not_found")
	// A recent client is still remembered and throttled.
	retryAfter(t, f.do(http.MethodGet, "/nosuch", "", from("10.0.19.135:1")))
}

func TestHandlerIdleClientsEvicted(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{IdleTTL: time.Minute, ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
	for i := range 200 {
		f.do(http.MethodGet, "/nosuch", "", from(fmt.Sprintf("10.0.%d.%d:1", i>>8, i&255)))
	}
	if n := f.h.limits.len(); n != 200 {
		t.Fatalf("table holds %d clients, want 200", n)
	}
	f.clock.Advance(time.Minute + time.Second)
	// New arrivals sweep the idle ones out of their shards, a few at a time.
	for i := range 200 {
		f.do(http.MethodGet, "/nosuch", "", from(fmt.Sprintf("10.1.%d.%d:1", i>>8, i&255)))
	}
	if n := f.h.limits.len(); n > 200+20 {
		t.Errorf("after idling, table holds %d clients, want the old 200 mostly gone", n)
	}
}

func TestHandlerConcurrent(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Inf, CreateLimit: rate.Inf})
	link := f.create(`{"url":"https://example.com/hot"}`)
	const workers = 8
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	var wg sync.WaitGroup
	codes := make([][]int, workers)
	for w := range workers {
		wg.Go(func() {
			addr := from(fmt.Sprintf("192.0.2.%d:1", w))
			codes[w] = append(codes[w], f.do(http.MethodPost, "/shorten",
				`{"url":"https://example.com/race","custom_alias":"race"}`, addr).Code)
			for i := range rounds {
				if rec := f.do(http.MethodGet, "/"+link.Key, "", addr); rec.Code != http.StatusFound {
					codes[w] = append(codes[w], rec.Code)
				}
				f.do(http.MethodGet, fmt.Sprintf("/miss%d", i), "", addr)
				f.do(http.MethodPost, "/shorten", fmt.Sprintf(`{"url":"https://example.com/%d"}`, i), addr)
			}
		})
	}
	wg.Wait()
	created := 0
	for w, c := range codes {
		switch {
		case c[0] == http.StatusCreated:
			created++
		case c[0] != http.StatusConflict:
			t.Errorf("worker %d: alias create %d", w, c[0])
		}
		if len(c) > 1 {
			t.Errorf("worker %d: failed redirects %v", w, c[1:])
		}
	}
	if created != 1 {
		t.Errorf("%d workers created the alias, want exactly 1", created)
	}
	rec := f.do(http.MethodGet, "/"+link.Key+"/stats", "")
	var st statsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Clicks != int64(workers*rounds) {
		t.Errorf("stats = %s, want %d clicks", rec.Body, workers*rounds)
	}
}

func TestHandlerConcurrentLimits(t *testing.T) {
	// Many goroutines share one client's bucket: exactly the burst passes.
	f := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Every(time.Hour), ProbeBurst: 10, MaxClients: 4096})
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				code := f.do(http.MethodGet, fmt.Sprintf("/m%d-%d", w, i), "", from("192.0.2.1:1")).Code
				// Other clients churn the table at the same time.
				f.do(http.MethodGet, "/nosuch", "", from(fmt.Sprintf("10.9.%d.%d:1", w, i)))
				mu.Lock()
				got[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got[404] != 10 || got[429] != 310 {
		t.Errorf("statuses %v, want 10×404 and 310×429", got)
	}
}

func TestHandlerClosedShortener(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{})
	link := f.create(`{"url":"https://example.com/x"}`)
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.do(http.MethodPost, "/shorten", `{"url":"https://example.com/y"}`), http.StatusServiceUnavailable, "unavailable")
	wantError(t, f.do(http.MethodGet, "/"+link.Key, ""), http.StatusServiceUnavailable, "unavailable")
	wantError(t, f.do(http.MethodGet, "/"+link.Key+"/stats", ""), http.StatusServiceUnavailable, "unavailable")
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("%w: scheme", ErrInvalidURL), 400, "invalid_url"},
		{ErrReservedAlias, 400, "reserved_alias"},
		{ErrInvalidAlias, 400, "invalid_alias"},
		{ErrInvalidRequest, 400, "invalid_request"},
		{ErrAliasTaken, 409, "alias_taken"},
		{ErrNotFound, 404, "not_found"},
		{ErrGone, 410, "gone"},
		{ErrClosed, 503, "unavailable"},
		{fmt.Errorf("%w: dedup entry", ErrContended), 503, "contended"},
		{ErrNoFreeKey, 500, "internal"},
		{context.Canceled, 503, "unavailable"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		if s, c := errorStatus(tt.err); s != tt.status || c != tt.code {
			t.Errorf("errorStatus(%v) = %d %s, want %d %s", tt.err, s, c, tt.status, tt.code)
		}
	}
}

// contendedStore fails every Create as a ShardedStore does under churn.
type contendedStore struct{ Store }

func (contendedStore) Create(context.Context, Link, bool) (Link, error) {
	return Link{}, fmt.Errorf("%w: dedup entry kept changing", ErrContended)
}

func TestHandlerContendedIsRetryable(t *testing.T) {
	s, err := New(contendedStore{NewMemStore()}, Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := NewHandler(s, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &handlerFixture{t: t, s: s, h: h}
	rec := f.do(http.MethodPost, "/shorten", `{"url":"https://example.com/x"}`)
	wantError(t, rec, http.StatusServiceUnavailable, "contended")
	if ra := rec.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
}

// swapStore counts Gets and, once armed, runs swap right after the next
// Get of key returned.
type swapStore struct {
	Store
	key  string
	gets int
	swap func()
}

func (s *swapStore) Get(ctx context.Context, key string) (Record, error) {
	rec, err := s.Store.Get(ctx, key)
	if key == s.key {
		s.gets++
		if f := s.swap; f != nil {
			s.swap = nil
			f()
		}
	}
	return rec, err
}

// TestHandlerHeadReadsOnce checks that a HEAD reads its link once: it
// looked the link up and, for a link with a visit limit, resolved it with
// a second Get. A one-time link deleted and re-created as a plain alias
// between the two reads then had a click counted by a HEAD of the plain
// link, whose HEADs count none, and every HEAD of a limited link cost two
// Gets.
func TestHandlerHeadReadsOnce(t *testing.T) {
	mem := NewMemStore()
	st := &swapStore{Store: mem, key: "xyz"}
	s, err := New(st, Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := NewHandler(s, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &handlerFixture{t: t, s: s, h: h}
	f.create(`{"url": "https://example.com/once", "custom_alias": "xyz", "max_visits": 1}`)

	st.gets = 0
	rec := f.do(http.MethodHead, "/xyz", "")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://example.com/once" || st.gets != 1 {
		t.Fatalf("HEAD of a one-time link = %d %q with %d Gets, want 302 to it with 1 Get",
			rec.Code, rec.Header().Get("Location"), st.gets)
	}

	f.create(`{"url": "https://example.com/twice", "custom_alias": "xyz2", "max_visits": 2}`)
	st.key, st.gets = "xyz2", 0
	st.swap = func() {
		if err := mem.Delete(context.Background(), "xyz2"); err != nil {
			t.Error(err)
		}
		if _, err := mem.Create(context.Background(), Link{Key: "xyz2", Alias: true, URL: "https://example.com/plain",
			CreatedAt: time.Now().UTC()}, false); err != nil {
			t.Error(err)
		}
	}
	rec = f.do(http.MethodHead, "/xyz2", "")
	if rec.Code != http.StatusFound || st.gets != 1 {
		t.Fatalf("HEAD racing a re-create = %d %q with %d Gets, want 302 with 1 Get",
			rec.Code, rec.Header().Get("Location"), st.gets)
	}
	stats, err := s.Stats(context.Background(), "xyz2")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Link.MaxVisits != 0 || stats.Clicks != 0 {
		t.Fatalf("after a HEAD that met the plain link: MaxVisits %d, %d clicks; want the plain link with 0 clicks",
			stats.Link.MaxVisits, stats.Clicks)
	}
}

// TestHandlerExistingShortenLink pins what the documentation says of a
// link a Store held under "shorten" before the key was reserved: the
// Shortener reaches it, GET and HEAD /shorten answer 405, its stats route
// works, and the alias cannot be created again.
func TestHandlerExistingShortenLink(t *testing.T) {
	mem := NewMemStore()
	bg := context.Background()
	if _, err := mem.Create(bg, Link{Key: "shorten", Alias: true, URL: "https://example.com/old",
		CreatedAt: time.Now().UTC()}, false); err != nil {
		t.Fatal(err)
	}
	s, err := New(mem, Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := NewHandler(s, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &handlerFixture{t: t, s: s, h: h}
	if l, err := s.Resolve(bg, "shorten"); err != nil || l.URL != "https://example.com/old" {
		t.Fatalf("Resolve(shorten) = %+v, %v; want the stored link", l, err)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		if rec := f.do(method, "/shorten", ""); rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s /shorten = %d, want 405", method, rec.Code)
		}
	}
	var st statsResponse
	if rec := f.do(http.MethodGet, "/shorten/stats", ""); rec.Code != http.StatusOK ||
		json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.Clicks != 1 {
		t.Fatalf("GET /shorten/stats = %d %s, want 200 with 1 click", rec.Code, rec.Body)
	}
	if err := s.Delete(bg, "shorten"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shorten(bg, ShortenRequest{URL: "https://example.com/new", Alias: "shorten"}); !errors.Is(err, ErrReservedAlias) {
		t.Fatalf("re-creating alias shorten: %v, want ErrReservedAlias", err)
	}
}
