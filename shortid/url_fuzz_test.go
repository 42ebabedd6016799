package shortid

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidateURL checks the URL validator on any input: it never panics,
// every error is ErrInvalidURL, and an accepted URL is an http(s) URL with a
// host and no user information, no control characters, within the length
// limit, that validates again to itself and does not point into a private
// network, and whose host is ASCII.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/a?b#c", "HTTP://Example.COM:80", "http://2130706433/", "http://0x7f.1/",
		"http://[::ffff:127.0.0.1]/", "http://sho.rt@evil/", "javascript:alert(1)", "http://bücher.example/",
		"http://8.8.8.8:8080", "http://[2001:db8::1]/", "http://a.b.c.d.e/", "http://%41/", "http://x.localhost./",
		"https://example.com:0443/p", "http://1.2.3/", "http://0x/", "http://ｅｘａｍｐｌｅ.com/",
		"http://ˡocalhost/", "http://a.sʰo.rt/", "http://İ.com/", "http://[::1]/", "http://[2001::1]/",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowPrivate bool) {
		p := &urlPolicy{maxLen: 256, allowPrivate: allowPrivate, ownHosts: []string{"sho.rt", ".own.example"}}
		norm, err := p.validateURL(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("validateURL(%q) error %v is not ErrInvalidURL", raw, err)
			}
			return
		}
		if len(norm) > p.maxLen || !utf8.ValidString(norm) {
			t.Fatalf("validateURL(%q) = %q: too long or not UTF-8", raw, norm)
		}
		for _, r := range norm {
			if r <= ' ' || r == 0x7f || r == '\\' {
				t.Fatalf("validateURL(%q) = %q keeps %q", raw, norm, r)
			}
		}
		again, err := p.validateURL(norm)
		if err != nil || again != norm {
			t.Fatalf("validateURL(%q) = %q, which validates to %q, %v", raw, norm, again, err)
		}
		u, err := url.Parse(norm)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("validateURL(%q) = %q, not an absolute http(s) URL without user: %v", raw, norm, err)
		}
		host := u.Hostname()
		for i := 0; i < len(host); i++ {
			if host[i] >= utf8.RuneSelf {
				t.Fatalf("validateURL(%q) = %q: non-ASCII host %q", raw, norm, host)
			}
		}
		if host != strings.ToLower(host) || host == "sho.rt" || strings.HasSuffix(host, ".own.example") {
			t.Fatalf("validateURL(%q) = %q: host %q not normalized or own", raw, norm, host)
		}
		if addr, err := netip.ParseAddr(host); err == nil && !allowPrivate {
			a := addr.Unmap()
			if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() {
				t.Fatalf("validateURL(%q) = %q points to %v", raw, norm, addr)
			}
		}
		if !allowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
			t.Fatalf("validateURL(%q) = %q points to localhost", raw, norm)
		}
	})
}

// FuzzCheckAlias checks that an alias is accepted exactly when it is 3-64
// characters of [0-9A-Za-z_-] and not reserved.
func FuzzCheckAlias(f *testing.F) {
	for _, s := range []string{"abc", "ab", "API", "my-link_1", "a/b", "ü", strings.Repeat("x", 65)} {
		f.Add(s)
	}
	s := &Shortener{reserved: map[string]struct{}{"api": {}, "admin": {}}}
	f.Fuzz(func(t *testing.T, alias string) {
		err := s.checkAlias(alias)
		ok := len(alias) >= MinAliasLength && len(alias) <= MaxAliasLength
		for _, c := range []byte(alias) {
			ok = ok && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-')
		}
		reserved := strings.EqualFold(alias, "api") || strings.EqualFold(alias, "admin")
		switch {
		case ok && !reserved && err != nil:
			t.Fatalf("checkAlias(%q) = %v, want nil", alias, err)
		case ok && reserved && !errors.Is(err, ErrReservedAlias):
			t.Fatalf("checkAlias(%q) = %v, want ErrReservedAlias", alias, err)
		case !ok && !errors.Is(err, ErrInvalidAlias):
			t.Fatalf("checkAlias(%q) = %v, want ErrInvalidAlias", alias, err)
		}
	})
}
