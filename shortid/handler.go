package shortid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// ErrInvalidHandlerOptions is returned by [NewHandler] for options it cannot
// serve with, such as a redirect status other than 301, 302, 307 or 308.
var ErrInvalidHandlerOptions = errors.New("shortid: invalid handler options")

// Defaults of [HandlerOptions].
const (
	DefaultMaxBodyBytes    = 8 << 10
	DefaultPermanentMaxAge = 24 * time.Hour
	DefaultCreateLimit     = rate.Limit(10)
	DefaultCreateBurst     = 20
	DefaultProbeLimit      = rate.Limit(1)
	DefaultProbeBurst      = 20
	DefaultMaxClients      = 1 << 16
	DefaultIdleTTL         = 10 * time.Minute
)

// routeShorten is the path of the create route. [New] reserves it, without
// regard to case, whatever Options.Reserved says: GET /shorten is that
// route's, so a new link under the key could never be followed. The stats route
// comes after a key, so "stats" is a key like any other (GET /stats follows
// it, GET /stats/stats describes it).
const routeShorten = "shorten"

// HandlerOptions configures a [Handler]. The zero value means the defaults
// named below.
type HandlerOptions struct {
	// Redirect is the status of a successful lookup: 302 (the default),
	// 301, 307 or 308. See "Redirect status" on [Handler].
	Redirect int

	// PermanentMaxAge is how long browsers and proxies may cache a 301 or
	// 308 redirect (Cache-Control max-age), capped by the link's expiry.
	// Default [DefaultPermanentMaxAge]. Unused with 302 and 307.
	PermanentMaxAge time.Duration

	// MaxBodyBytes bounds the body of POST /shorten; larger bodies get 413.
	// Default [DefaultMaxBodyBytes] (8 KiB: a 2 KiB URL escaped twice over
	// still fits).
	MaxBodyBytes int64

	// CreateLimit and CreateBurst size each client's token bucket for
	// POST /shorten: a sustained rate in requests per second and a burst.
	// Defaults [DefaultCreateLimit] and [DefaultCreateBurst]; rate.Inf
	// disables the limit.
	CreateLimit rate.Limit
	CreateBurst int

	// ProbeLimit and ProbeBurst size each client's token bucket for lookups
	// that find nothing (404). A client whose bucket is empty gets 429
	// instead of 404 until a token is back; lookups of existing keys are
	// never refused. The /64s of one IPv6 /48 also share a probe bucket 16
	// times this size. See "Rate limits" on [Handler].
	// Defaults [DefaultProbeLimit] and [DefaultProbeBurst]; rate.Inf
	// disables the limit.
	ProbeLimit rate.Limit
	ProbeBurst int

	// APIKeyHeader names a request header (for example "X-API-Key") that
	// identifies the client, instead of its IP address, when ValidAPIKey
	// accepts its value. Requests without the header, or with a key that
	// ValidAPIKey rejects, are identified by IP.
	//
	// ValidAPIKey reports whether key is one the operator issued. Without
	// it the header is ignored: an unchecked key would let anyone pick a
	// fresh key, and so a fresh bucket, for every request. It runs on
	// every rate-limited request that carries the header, so make it
	// cheap (a map lookup, a constant-time MAC check).
	APIKeyHeader string
	ValidAPIKey  func(key string) bool

	// ClientIP returns the client's IP address for r. The default is the
	// host of r.RemoteAddr. Behind a reverse proxy, return the address the
	// proxy reports (for example the last entry of X-Forwarded-For it
	// appends); never trust such headers from the open internet, where
	// clients set them to anything. The result may carry a port, brackets
	// and spaces, which are ignored; if it is not an IP address at all
	// (or ""), r.RemoteAddr identifies the client instead. IPv6 addresses
	// are grouped by /64.
	ClientIP func(r *http.Request) string

	// MaxClients bounds the clients whose buckets are kept (default
	// [DefaultMaxClients], about 200 bytes each). When the table is full
	// the least recently seen client is forgotten, and clients idle for
	// IdleTTL (default [DefaultIdleTTL]) are dropped as others arrive. A
	// forgotten client starts again with full buckets, so size both to
	// outlast the time a bucket needs to refill (burst / limit).
	MaxClients int
	IdleTTL    time.Duration

	// Clock is the time source of the rate limits and of Cache-Control
	// max-age. Default: the Shortener's clock.
	Clock Clock

	// Logger, if set, receives internal errors (500) at level Error.
	Logger *slog.Logger
}

// Handler serves a [Shortener] over HTTP. It implements [http.Handler].
//
// # Routes
//
//	POST /shorten        create a link   → 201 with the link as JSON (200 if it existed)
//	GET  /{key}          follow a link   → 302 (or the configured status) with Location
//	                     (non-ASCII and "<>^`{|} percent-encoded)
//	GET  /{key}/stats    link statistics → 200 with the link as JSON, plus
//	                     "clicks" and, for max-visits links, "remaining_visits"
//	                     (and no "original_url": see "Visit limits")
//
// No new link is keyed "shorten", in any case, whatever Options.Reserved
// holds: [New] reserves it, so a custom_alias "shorten" gets 400
// reserved_alias and a generated code equal to it is skipped. A link that
// a Store already held under "shorten" before it was reserved stays
// there: GET and HEAD /shorten answer 405, GET /shorten/stats describes
// it, and the Shortener's methods (Resolve, Lookup, Stats, Delete) reach
// it; deleted, it cannot be created again. "stats" needs no such rule,
// since its route comes after a key: GET /stats follows a link keyed
// "stats".
//
// HEAD is answered like GET, headers and status alike, from one read of
// the link. For a link without a visit limit it counts no click, as
// [Shortener.Lookup]: link checkers and previews are not visitors. For a
// link with one it uses a visit and counts a click, as the GET would (see
// "Visit limits"). Any other method gets 405 with an Allow header; any
// other path 404, including any path with a %-escape (routes are matched
// on the path as sent, so /%6caunch is not /launch and /launch%2Fstats is
// not /launch/stats). Every error is JSON,
//
//	{"error": "shortid: alias taken", "code": "alias_taken"}
//
// with the status and code: 400 invalid_json, invalid_url, invalid_alias,
// reserved_alias, invalid_request; 404 not_found; 405 method_not_allowed;
// 409 alias_taken; 410 gone (expired, or out of visits); 413
// body_too_large; 415 unsupported_media_type; 429 rate_limited (with
// Retry-After in whole seconds); 503 unavailable (the Shortener is closed)
// and contended (concurrent creates of the same URL on a [ShardedStore]
// kept its dedup entry changing: nothing was created, and Retry-After: 1
// invites a retry); 500 internal. Every JSON response carries
// Cache-Control: no-store.
//
// # Creating
//
// POST /shorten takes a JSON object with Content-Type application/json:
//
//	{"url": "https://example.com/a", "custom_alias": "launch", "ttl": 3600, "max_visits": 10}
//
// Only url is required. Member names are case-sensitive and may appear once
// each. ttl is either a number of seconds or a Go duration string ("90m",
// "24h"); 0 or absent means no expiry, and anything else must be at least
// one second (a smaller positive value would round to no expiry or expire at
// once, so it is refused rather than guessed at). Unknown fields, trailing
// data after the object, wrong types and numbers out of range are rejected
// with 400 rather than guessed at: a misspelt "custom_alais" must not
// silently create a random code, and neither "URL" nor a second "url" member
// may stand in for the one that was checked. Requiring the JSON content type
// also means a browser cannot post a link cross-site without a CORS
// preflight. The answer is 201 with
//
//	{"key": "launch", "short_url": "https://sho.rt/launch", "original_url": "https://example.com/a",
//	 "created_at": "...", "expires_at": "...", "max_visits": 10}
//
// (expires_at and max_visits only when set). A plain request for a URL that
// is already shortened returns the existing link, with its original
// created_at, and 200 instead of 201.
//
// # Visit limits
//
// A link with max_visits shows its target only to a visit, each of which
// it counts down. A HEAD is a GET without the content (RFC 9110, section
// 9.3.2), so it carries the same Location; answering it without using a
// visit would let anyone read a one-time link's target as often as they
// like and still leave the visit for later. So a HEAD of such a link is a
// visit: it uses one and counts a click, and a link checker that sends one
// uses up a visit as its GET would. For the same reason GET /{key}/stats
// leaves original_url out for such a link: the Handler has no notion of an
// owner, so the stats route is open to anyone who knows the key, like the
// redirect (it is rate-limited only for keys that do not exist). Owners who
// need the target read it with [Shortener.Lookup] or [Shortener.Stats]
// behind their own authentication. Links without a visit limit show their
// target in their stats, as their redirect does to anyone.
//
// # Redirect status
//
// 302 Found (the default) and 307 are temporary: the browser asks again on
// every click, so every click is counted, a deleted or expired link stops
// working at once, and max-visits links keep their count. The handler sends
// them with Cache-Control: no-store. 301 and 308 are permanent: browsers
// cache them (some indefinitely, without a max-age) and later clicks never
// reach the server, so click counts undercount and a deleted link lives on
// in caches. The handler sends them with a max-age of PermanentMaxAge, cut
// to the link's remaining lifetime, and with no-store for max-visits links.
// Use 301 when fewer requests matter more than analytics; 307 and 308 also
// forbid clients to change the method of a non-GET request.
//
// # Rate limits
//
// Each client (by a valid API key, else by IP, IPv6 by /64) has two token
// buckets. Every POST /shorten that passes the content type and length
// checks takes a token from the first, whether or not it creates a link.
// A lookup that finds nothing (and any path that is no route) takes one
// from the second; once it is empty, such misses get 429 instead of 404.
// The IPv6 /64s of one /48 (a site's allocation, 65,536 /64s) also share
// a probe bucket of 16 times the rate and burst, so holding a /48 buys 16
// clients' worth of guessing, not 65,536.
// Lookups of existing keys never take a token and are never refused, so one
// guesser behind a NAT or proxy cannot lock out everyone sharing its
// address, and a redirect does not touch the table of clients at all.
// Expired links (410) cost nothing either: they existed.
//
// What the probe limit does not do is hide which keys exist: a throttled
// client still tells a hit (302) from a miss (429) at the rate the server
// answers. It bounds the 404 work a client causes and makes scanners
// stand out, but resistance to enumeration rests on the key space: with n
// random links among 62^7 ≈ 3.5e12 seven-character keys, a guess hits with
// probability n/3.5e12, so a million links need about 3.5 million guesses
// per hit. Use longer keys, or authenticate lookups, where that is not
// enough. (Refusing hits too would hide them, at the price of the lockout
// above.)
//
// # Serving
//
// Bounding how long a client may take to send its request, and how long a
// connection may idle, is the http.Server's job, not the Handler's: serve
// it from a server with ReadHeaderTimeout, ReadTimeout, WriteTimeout,
// IdleTimeout and MaxHeaderBytes set (see the example, and
// examples/shortener). http.ListenAndServe sets none of them, so one slow
// client can hold a connection and a goroutine for ever. The Handler
// bounds only what it reads itself: the body of POST /shorten.
//
// # Concurrency
//
// A Handler is safe for concurrent use; its ServeHTTP runs on as many
// goroutines as the server uses.
type Handler struct {
	s               *Shortener
	redirect        int
	permanentMaxAge time.Duration
	maxBody         int64
	apiKeyHeader    string // canonical form; "" unless ValidAPIKey is set
	validAPIKey     func(string) bool
	clientIP        func(*http.Request) string
	clock           Clock
	log             *slog.Logger
	limits          *clientLimiter
	noStore         []string // shared header value, capacity-limited
}

// NewHandler returns a Handler serving s with opts. It returns an error
// wrapping [ErrInvalidHandlerOptions] for an unsupported redirect status or
// a negative size, limit or duration. It panics if s is nil.
func NewHandler(s *Shortener, opts HandlerOptions) (*Handler, error) {
	if s == nil {
		panic("shortid: NewHandler with nil Shortener")
	}
	switch opts.Redirect {
	case 0:
		opts.Redirect = http.StatusFound
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, fmt.Errorf("%w: redirect status %d (want 301, 302, 307 or 308)", ErrInvalidHandlerOptions, opts.Redirect)
	}
	if opts.MaxBodyBytes < 0 || opts.CreateLimit < 0 || opts.CreateBurst < 0 || opts.ProbeLimit < 0 ||
		opts.ProbeBurst < 0 || opts.MaxClients < 0 || opts.IdleTTL < 0 || opts.PermanentMaxAge < 0 {
		return nil, fmt.Errorf("%w: negative value", ErrInvalidHandlerOptions)
	}
	opts.MaxBodyBytes = orDefault(opts.MaxBodyBytes, DefaultMaxBodyBytes)
	opts.PermanentMaxAge = orDefault(opts.PermanentMaxAge, DefaultPermanentMaxAge)
	opts.CreateLimit = orDefault(opts.CreateLimit, DefaultCreateLimit)
	opts.CreateBurst = orDefault(opts.CreateBurst, DefaultCreateBurst)
	opts.ProbeLimit = orDefault(opts.ProbeLimit, DefaultProbeLimit)
	opts.ProbeBurst = orDefault(opts.ProbeBurst, DefaultProbeBurst)
	opts.MaxClients = orDefault(opts.MaxClients, DefaultMaxClients)
	opts.IdleTTL = orDefault(opts.IdleTTL, DefaultIdleTTL)
	if opts.Clock == nil {
		opts.Clock = s.clock
	}
	h := &Handler{
		s:               s,
		redirect:        opts.Redirect,
		permanentMaxAge: opts.PermanentMaxAge,
		maxBody:         opts.MaxBodyBytes,
		clientIP:        opts.ClientIP,
		clock:           opts.Clock,
		log:             opts.Logger,
		limits:          newClientLimiter(opts),
		noStore:         []string{"no-store"},
	}
	if opts.APIKeyHeader != "" && opts.ValidAPIKey != nil {
		h.validAPIKey = opts.ValidAPIKey
		h.apiKeyHeader = textproto.CanonicalMIMEHeaderKey(opts.APIKeyHeader)
	}
	return h, nil
}

// orDefault returns v, or def if v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ServeHTTP routes r to creating, following or describing a link.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Route on the path as sent: no key or route name needs escaping, so
	// any %-escape is a probe. Routing on the decoded path instead would
	// make /launch%2Fstats the stats page and /%6caunch a second spelling
	// of /launch. EscapedPath does not allocate for a path that needs no
	// escaping.
	path := r.URL.EscapedPath()
	// A path that is no route costs a probe token like an unknown key
	// (which includes malformed keys: the Shortener answers ErrNotFound),
	// so that odd paths are no way around the limit.
	if len(path) < 2 || path[0] != '/' || strings.IndexByte(path, '%') >= 0 {
		h.probe(w, r)
		return
	}
	rest := path[1:]
	if rest == routeShorten {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		h.create(w, r)
		return
	}
	key, tail, sub := strings.Cut(rest, "/")
	switch {
	case !sub:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		h.follow(w, r, key)
	case tail == "stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		h.stats(w, r, key)
	default:
		h.probe(w, r)
	}
}

// follow answers GET /{key}: the hot path.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request, key string) {
	var link Link
	var err error
	if r.Method == http.MethodHead {
		// A link checker's HEAD is no click, except for a link with a
		// visit limit: the HEAD's Location shows the target as the GET's
		// would, so it is a visit, or a one-time link's target could be
		// read any number of times.
		link, err = h.s.head(r.Context(), key)
	} else {
		link, err = h.s.Resolve(r.Context(), key)
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			h.probe(w, r)
			return
		}
		h.fail(w, r, err)
		return
	}
	hdr := w.Header()
	hdr["Location"] = []string{locationOf(link.URL)}
	hdr["Cache-Control"] = h.cacheControl(link)
	w.WriteHeader(h.redirect)
}

// locationOf is the Location header value for the stored URL u: u with
// every non-ASCII byte and each of the ASCII characters " < > ^ ` { | }
// percent-encoded (Validate has already refused controls, spaces and
// backslashes). The stored URL keeps the characters as given, so that
// deduplication and original_url are unchanged; only the header, which
// must be ASCII and which some clients mangle otherwise, is escaped. A URL
// that needs no escaping is returned as is, without allocating.
func locationOf(u string) string {
	i := 0
	for i < len(u) && !locationEscapes(u[i]) {
		i++
	}
	if i == len(u) {
		return u
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(u) + 16)
	b.WriteString(u[:i])
	for ; i < len(u); i++ {
		c := u[i]
		if locationEscapes(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func locationEscapes(c byte) bool {
	return c >= 0x80 || c <= ' ' || c == 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0
}

// cacheControl is the Cache-Control of a redirect to link.
func (h *Handler) cacheControl(link Link) []string {
	if h.redirect == http.StatusFound || h.redirect == http.StatusTemporaryRedirect || link.MaxVisits > 0 {
		return h.noStore[:1:1]
	}
	age := h.permanentMaxAge
	if !link.ExpiresAt.IsZero() {
		age = min(age, link.ExpiresAt.Sub(h.clock.Now()))
	}
	if age < time.Second {
		return h.noStore[:1:1]
	}
	return []string{"public, max-age=" + strconv.FormatInt(int64(age/time.Second), 10)}
}

// stats answers GET /{key}/stats.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request, key string) {
	st, err := h.s.Stats(r.Context(), key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			h.probe(w, r)
			return
		}
		h.fail(w, r, err)
		return
	}
	resp := statsResponse{linkResponse: h.linkResponse(st.Link), Clicks: st.Clicks}
	if st.Link.MaxVisits > 0 {
		resp.Remaining = &st.Remaining
		resp.OriginalURL = "" // only a visit shows the target (see "Visit limits" on Handler)
	}
	writeJSON(w, http.StatusOK, resp)
}

// probe answers a lookup that found nothing: 404, or 429 once the client
// has used up its probe bucket.
func (h *Handler) probe(w http.ResponseWriter, r *http.Request) {
	id, group := h.clientIDs(r)
	now := h.clock.Now()
	ok, wait := h.limits.allow(id, probeBucket, now)
	if ok && group != 0 {
		ok, wait = h.limits.allow(group, groupProbeBucket, now)
	}
	if !ok {
		tooManyRequests(w, wait)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", ErrNotFound.Error())
}

// createRequest is the body of POST /shorten.
type createRequest struct {
	URL         string      `json:"url"`
	CustomAlias string      `json:"custom_alias"`
	TTL         jsonSeconds `json:"ttl"`
	MaxVisits   int64       `json:"max_visits"`
}

// linkResponse is the JSON form of a Link.
type linkResponse struct {
	Key         string     `json:"key"`
	ShortURL    string     `json:"short_url"`
	OriginalURL string     `json:"original_url,omitempty"` // empty only in the stats of a max-visits link
	Alias       bool       `json:"alias,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	MaxVisits   int64      `json:"max_visits,omitempty"`
}

// statsResponse is the JSON form of Stats.
type statsResponse struct {
	linkResponse
	Clicks    int64  `json:"clicks"`
	Remaining *int64 `json:"remaining_visits,omitempty"` // only for max-visits links
}

type errorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (h *Handler) linkResponse(l Link) linkResponse {
	resp := linkResponse{
		Key:         l.Key,
		ShortURL:    h.s.ShortURL(l.Key),
		OriginalURL: l.URL,
		Alias:       l.Alias,
		CreatedAt:   l.CreatedAt.UTC(),
		MaxVisits:   l.MaxVisits,
	}
	if !l.ExpiresAt.IsZero() {
		t := l.ExpiresAt.UTC()
		resp.ExpiresAt = &t
	}
	return resp
}

// create answers POST /shorten.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"shortid: Content-Type must be application/json")
		return
	}
	if r.ContentLength > h.maxBody {
		bodyTooLarge(w, h.maxBody)
		return
	}
	if ok, wait := h.limits.allow(h.clientID(r), createBucket, h.clock.Now()); !ok {
		tooManyRequests(w, wait)
		return
	}
	req, err := decodeCreate(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			bodyTooLarge(w, h.maxBody)
		case errors.Is(err, ErrInvalidRequest):
			writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		default:
			writeError(w, http.StatusBadRequest, "invalid_json", "shortid: invalid JSON body: "+err.Error())
		}
		return
	}
	link, created, err := h.s.ShortenCreated(r.Context(), ShortenRequest{
		URL:       req.URL,
		Alias:     req.CustomAlias,
		TTL:       time.Duration(req.TTL),
		MaxVisits: req.MaxVisits,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, h.linkResponse(link))
}

// decodeCreate reads exactly one JSON object with known fields from body.
// It walks the object's members itself rather than decoding into the
// struct, because encoding/json matches field names case-insensitively and
// lets a repeated member silently override the first: {"URL": ...} or two
// "url" members are refused here instead.
func decodeCreate(body io.Reader) (createRequest, error) {
	var req createRequest
	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return req, errors.New("empty body")
		}
		return req, err
	}
	if tok != json.Delim('{') {
		return req, errors.New("body is not a JSON object")
	}
	seen := make(map[string]bool, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, err
		}
		name, _ := tok.(string) // inside an object, Token yields member names
		var dst any
		switch name {
		case "url":
			dst = &req.URL
		case "custom_alias":
			dst = &req.CustomAlias
		case "ttl":
			dst = &req.TTL
		case "max_visits":
			dst = &req.MaxVisits
		default:
			return req, fmt.Errorf("unknown field %q (names are case-sensitive)", name)
		}
		if seen[name] {
			return req, fmt.Errorf("duplicate field %q", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, err
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return req, fmt.Errorf("field %q: %w", name, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return req, err
	}
	return req, nil
}

// jsonSeconds is a duration in JSON: a number of seconds, or a string in
// Go's duration syntax ("1h30m"). It must be 0 (no expiry) or at least one
// second, and fit a time.Duration.
type jsonSeconds time.Duration

// maxSeconds is the longest duration that time.Duration holds, in seconds
// (about 292 years).
const maxSeconds = float64(math.MaxInt64) / float64(time.Second)

// nonzero reports whether the JSON number or duration string s has a
// non-zero digit before its exponent, if any.
func nonzero(s string) bool {
	for i := 0; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
		if '1' <= s[i] && s[i] <= '9' {
			return true
		}
	}
	return false
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *jsonSeconds) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var v time.Duration
	lit := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &lit); err != nil {
			return err
		}
		p, err := time.ParseDuration(lit)
		if err != nil {
			return fmt.Errorf("%w: ttl %q is not a duration", ErrInvalidRequest, lit)
		}
		v = p
	} else {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("%w: ttl must be a number of seconds or a duration string", ErrInvalidRequest)
		}
		if !(f >= 0 && f < maxSeconds) {
			return fmt.Errorf("%w: ttl %s seconds out of range", ErrInvalidRequest, b)
		}
		v = time.Duration(math.Round(f * float64(time.Second)))
	}
	// A literal too small for its value to be told from zero (1e-400
	// seconds, "0.1ns") is not a request for no expiry.
	tiny := v == 0 && nonzero(lit)
	if v < 0 || tiny && lit[0] == '-' {
		return fmt.Errorf("%w: negative ttl", ErrInvalidRequest)
	}
	// A fraction of a second would either round to 0 (no expiry at all) or
	// expire before anyone could follow the link: neither is what was
	// asked for.
	if v < time.Second && (v > 0 || tiny) {
		return fmt.Errorf("%w: ttl %s is under one second", ErrInvalidRequest, b)
	}
	*d = jsonSeconds(v)
	return nil
}

// fail answers err from the Shortener with its status and code.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := errorStatus(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		if h.log != nil {
			h.log.ErrorContext(r.Context(), "shortid: handler", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		msg = "shortid: internal error"
	}
	if errors.Is(err, ErrContended) {
		// Nothing was stored, and a retry a moment later finds the
		// racing writes done.
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, status, code, msg)
}

// errorStatus maps an error of the Shortener to an HTTP status and a code.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrReservedAlias):
		return http.StatusBadRequest, "reserved_alias"
	case errors.Is(err, ErrInvalidAlias):
		return http.StatusBadRequest, "invalid_alias"
	case errors.Is(err, ErrInvalidURL):
		return http.StatusBadRequest, "invalid_url"
	case errors.Is(err, ErrInvalidRequest):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrAliasTaken):
		return http.StatusConflict, "alias_taken"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrGone):
		return http.StatusGone, "gone"
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, ErrContended):
		return http.StatusServiceUnavailable, "contended"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// isJSON reports whether the media type ct is application/json or a
// +json type, with any parameters.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "shortid: method not allowed")
}

func bodyTooLarge(w http.ResponseWriter, limit int64) {
	writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("shortid: request body larger than %d bytes", limit))
}

func tooManyRequests(w http.ResponseWriter, wait time.Duration) {
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	writeError(w, http.StatusTooManyRequests, "rate_limited", "shortid: too many requests")
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorResponse{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here, and they always encode.
		status, b = http.StatusInternalServerError, []byte(`{"error":"shortid: internal error","code":"internal"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Errors, stats and created links are answers of the moment: a cached
	// 404 would outlive the link created next, cached stats go stale.
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
