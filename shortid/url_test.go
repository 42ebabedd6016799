package shortid_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// newTestShortener returns a Shortener on a MemStore with the background
// goroutines off, a fake clock and BaseURL https://sho.rt.
func newTestShortener(t testing.TB, opts shortid.Options) (*shortid.Shortener, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://sho.rt"
	}
	opts.FlushInterval, opts.SweepInterval = -1, -1
	s, err := shortid.New(shortid.NewMemStore(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

func TestShortenRejectsHostileURLs(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{OwnHosts: []string{"*.sho.rt", "go.example:8443"}})
	// Each case names the rule it breaks, so that none passes for another
	// reason.
	hostile := []struct{ url, reason string }{
		{"", "empty"},
		{"example.com", "not absolute"},
		{"/relative/path", "not absolute"},
		{"//example.com/scheme-relative", "not absolute"},
		{"javascript:alert(1)", "scheme \"javascript\" not allowed"},
		{"JavaScript:alert(1)", "scheme \"javascript\" not allowed"},
		{"data:text/html,<script>alert(1)</script>", "scheme \"data\" not allowed"},
		{"file:///etc/passwd", "scheme \"file\" not allowed"},
		{"ftp://example.com/", "scheme \"ftp\" not allowed"},
		{"mailto:a@example.com", "scheme \"mailto\" not allowed"},
		{"vbscript:msgbox", "scheme \"vbscript\" not allowed"},
		{"http:example.com", "no host"},
		{"http:/example.com", "no host"},
		{"http:///example.com", "no host"},
		{"http://", "no host"},
		{"http://:80/", "no host"},
		{"http://exa mple.com/", "control, space or backslash character ' '"},
		{"http://example.com/a b", "control, space or backslash character ' '"},
		{" http://example.com/", "control, space or backslash character ' '"},
		{"http://example.com/\n", "control, space or backslash character '\\n'"},
		{"http://example.com/\r\nSet-Cookie: x=y", "control, space or backslash character '\\r'"},
		{"http://example.com/\x00", "control, space or backslash character '\\x00'"},
		{"http://example.com/\x7f", "control, space or backslash character '\\x7f'"},
		{"http://ü/#\x7f", "control, space or backslash character '\\x7f'"},
		{"java\tscript:alert(1)", "control, space or backslash character '\\t'"},
		{"http://example.com\\@evil.com/", "control, space or backslash character '\\\\'"},
		{"http://evil.com\\.example.com/", "control, space or backslash character '\\\\'"},
		{"http://example.com/\u202egnp.exe", "control, space or format character '\\u202e'"},
		{"http://sho.rt@evil.com/", "user information in the host"},
		{"http://user:pass@example.com/", "user information in the host"},
		{"http://evil.com%40sho.rt/", "percent-encoded host"},
		{"http://sho.rt/loop", "host \"sho.rt\" is this shortener"},
		{"HTTPS://SHO.RT./loop", "host \"sho.rt\" is this shortener"},
		{"https://sho.rt:443/loop", "host \"sho.rt\" is this shortener"},
		{"https://sub.sho.rt/loop", "host \"sub.sho.rt\" is this shortener"},
		{"http://go.example/loop", "host \"go.example\" is this shortener"},
		{"http://localhost/", "host \"localhost\" is loopback"},
		{"http://LOCALHOST./", "host \"localhost\" is loopback"},
		{"http://app.localhost/", "host \"app.localhost\" is loopback"},
		{"http://127.0.0.1/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://127.1/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://2130706433/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://0x7f.1/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://0x7f000001/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://0177.0.0.1/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://017700000001/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://0/", "address 0.0.0.0 is loopback or unspecified"},
		{"http://0.0.0.0/", "address 0.0.0.0 is loopback or unspecified"},
		{"http://10.0.0.1/", "address 10.0.0.1 is private, loopback, link-local or reserved"},
		{"http://172.16.5.4/", "address 172.16.5.4 is private, loopback, link-local or reserved"},
		{"http://192.168.1.1/", "address 192.168.1.1 is private, loopback, link-local or reserved"},
		{"http://169.254.169.254/latest/meta-data/", "address 169.254.169.254 is private, loopback, link-local or reserved"},
		{"http://100.64.0.1/", "address 100.64.0.1 is private, loopback, link-local or reserved"},
		{"http://255.255.255.255/", "address 255.255.255.255 is private, loopback, link-local or reserved"},
		{"http://224.0.0.1/", "address 224.0.0.1 is private, loopback, link-local or reserved"},
		{"http://[::1]/", "address ::1 is loopback or unspecified"},
		{"http://[::]/", "address :: is loopback or unspecified"},
		{"http://[::ffff:127.0.0.1]/", "address ::ffff:127.0.0.1 is loopback or unspecified"},
		{"http://[::ffff:7f00:1]/", "address ::ffff:127.0.0.1 is loopback or unspecified"},
		{"http://[::127.0.0.1]/", "address 127.0.0.1 is private, loopback, link-local or reserved"},
		{"http://[64:ff9b::a00:1]/", "address 10.0.0.1 is private, loopback, link-local or reserved"},
		{"http://[2002:7f00:1::]/", "address 127.0.0.1 is loopback or unspecified"},
		{"http://[fe80::1]/", "address fe80::1 is private, loopback, link-local or reserved"},
		{"http://[fe80::1%25eth0]/", "percent-encoded host"},
		{"http://[fc00::1]/", "address fc00::1 is private, loopback, link-local or reserved"},
		{"http://[fd12:3456::1]/", "address fd12:3456::1 is private, loopback, link-local or reserved"},
		{"http://[ff02::1]/", "address ff02::1 is private, loopback, link-local or reserved"},
		{"http://%31%32%37.0.0.1/", "percent-encoded host"},
		{"http://ex%61mple.com/", "percent-encoded host"},
		{"http://b%C3%BCcher.example/", "percent-encoded host"},
		{"http://[::1]x/", "junk after ]"},
		{"http://example.com]/", "bracket in host"},
		{"http://a:b:c/", "port \"b:c\""},
		{"http://example.com/#%zz", "bad escape in \"%zz\""},
		{"http://[example.com]/", "bad IPv6 host \"example.com\""},
		{"http://%E2%80%AElocalhost/", "percent-encoded host"},
		{"http://%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%81%EF%BD%8C%EF%BD%88%EF%BD%8F%EF%BD%93%EF%BD%94/", "percent-encoded host"},
		{"http://%6c%6f%63%61%6c%68%6f%73%74/", "percent-encoded host"},
		{"http://ｌｏｃａｌｈｏｓｔ/", "non-ASCII host \"ｌｏｃａｌｈｏｓｔ\""},
		{"http://１２７.０.０.１/", "non-ASCII host \"１２７.０.０.１\""},
		{"http://127。0。0。1/", "non-ASCII host \"127。0。0。1\""},
		{"http://1.2.3.4.5/", "bad IPv4 host \"1.2.3.4.5\""},
		{"http://256.1.1.1/", "bad IPv4 host \"256.1.1.1\""},
		{"http://08.1.1.1/", "bad IPv4 host \"08.1.1.1\""},
		{"http://0x100000000/", "bad IPv4 host \"0x100000000\""},
		{"http://example..com/", "empty label in host \"example..com\""},
		{"http://example.com../", "empty label in host \"example.com.\""},
		{"http://./", "bad host length"},
		{"http://.example.com/", "empty label in host \".example.com\""},
		{"http://exa<mple.com/", "character '<' in host"},
		{"http://example.com:0/", "port \"0\""},
		{"http://example.com:65536/", "port \"65536\""},
		{"http://example.com:http/", "port \"http\""},
		{"http://[::1/", "unclosed [ in host"},
		{"http://example.com/%zz", "bad escape in \"/%zz\""},
		{"https://example.com/" + strings.Repeat("a", 2048), "longer than 2048 bytes"},
		{"http://\xff.example/", "not UTF-8"},
		{"http://ˡocalhost/", "non-ASCII host \"ˡocalhost\""},
		{"http://sʰo.rt/", "non-ASCII host \"sʰo.rt\""},
		{"http://a.sʰo.rt/", "non-ASCII host \"a.sʰo.rt\""},
		{"http://ǉ.sho.rt/", "non-ASCII host \"ǉ.sho.rt\""},
		{"http://ⱼ.example/", "non-ASCII host \"ⱼ.example\""},
		{"http://İ.com/", "non-ASCII host \"İ.com\""},
		{"http://\u212aelvin.example/", "non-ASCII host \"\u212aelvin.example\""},
		{"http://bücher.example/", "non-ASCII host \"bücher.example\""},
		{"http://[2001::1]/", "address 2001::1 is private, loopback, link-local or reserved"},
		{"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "address 2001:0:4136:e378:8000:63bf:3fff:fdd2 is private, loopback, link-local or reserved"},
		{"http://[100::1]/", "address 100::1 is private, loopback, link-local or reserved"},
		{"http://192.88.99.1/", "address 192.88.99.1 is private, loopback, link-local or reserved"},
	}
	for _, c := range hostile {
		l, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: c.url})
		if !errors.Is(err, shortid.ErrInvalidURL) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("Shorten(%q) = %+v, %v; want ErrInvalidURL with %q", c.url, l, err, c.reason)
		}
	}
}

func TestShortenNormalizesURLs(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	cases := []struct{ in, want string }{
		{"http://example.com", "http://example.com/"},
		{"HTTP://Example.COM/Path?Q=1#F", "http://example.com/Path?Q=1#F"},
		{"https://example.com:443/a", "https://example.com/a"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"http://example.com:0080/a", "http://example.com/a"},
		{"https://example.com:80/a", "https://example.com:80/a"},
		{"http://example.com:8080", "http://example.com:8080/"},
		{"http://example.com.?x=1", "http://example.com/?x=1"},
		{"http://134744072/", "http://8.8.8.8/"},
		{"http://0x8.0x8.0x8.0x8/", "http://8.8.8.8/"},
		{"http://[2001:4860:4860:0:0:0:0:8888]/", "http://[2001:4860:4860::8888]/"},
		{"http://[::ffff:8.8.8.8]/", "http://[::ffff:8.8.8.8]/"},
		{"https://XN--BCHER-KVA.example/ä", "https://xn--bcher-kva.example/ä"},
		{"https://example.com/a%20b?c=%2F", "https://example.com/a%20b?c=%2F"},
	}
	for _, c := range cases {
		l, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: c.in})
		if err != nil || l.URL != c.want {
			t.Errorf("Shorten(%q).URL = %q, %v; want %q", c.in, l.URL, err, c.want)
		}
	}
}

func TestAllowPrivate(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{AllowPrivate: true})
	for _, c := range []struct{ in, want string }{
		{"http://localhost:8080/", "http://localhost:8080/"},
		{"http://2130706433/", "http://127.0.0.1/"},
		{"http://0x7f.1/", "http://127.0.0.1/"},
		{"http://[::1]/", "http://[::1]/"},
		{"http://192.168.1.1/admin", "http://192.168.1.1/admin"},
	} {
		l, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: c.in})
		if err != nil || l.URL != c.want {
			t.Errorf("Shorten(%q) with AllowPrivate = %q, %v; want %q", c.in, l.URL, err, c.want)
		}
	}
	// Own hosts stay refused even with AllowPrivate.
	if _, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: "https://sho.rt/x"}); !errors.Is(err, shortid.ErrInvalidURL) {
		t.Errorf("Shorten(own host) with AllowPrivate: %v, want ErrInvalidURL", err)
	}
}

func TestMaxURLLength(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{MaxURLLength: 40})
	ok := "https://example.com/" + strings.Repeat("a", 20) // 40 bytes
	if _, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: ok}); err != nil {
		t.Errorf("Shorten(40 bytes) = %v", err)
	}
	if _, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: ok + "a"}); !errors.Is(err, shortid.ErrInvalidURL) {
		t.Errorf("Shorten(41 bytes) = %v, want ErrInvalidURL", err)
	}
}
