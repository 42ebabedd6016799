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
	hostile := []string{
		"",
		"example.com",
		"/relative/path",
		"//example.com/scheme-relative",
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"file:///etc/passwd",
		"ftp://example.com/",
		"mailto:a@example.com",
		"vbscript:msgbox",
		"http:example.com",
		"http:/example.com",
		"http:///example.com",
		"http://",
		"http://:80/",
		"http://exa mple.com/",
		"http://example.com/a b",
		" http://example.com/",
		"http://example.com/\n",
		"http://example.com/\r\nSet-Cookie: x=y",
		"http://example.com/\x00",
		"http://example.com/\x7f",
		"http://ü/#\x7f",
		"java\tscript:alert(1)",
		"http://example.com\\@evil.com/",
		"http://evil.com\\.example.com/",
		"http://example.com/\u202egnp.exe",
		"http://sho.rt@evil.com/",
		"http://user:pass@example.com/",
		"http://evil.com%40sho.rt/",
		"http://sho.rt/loop",
		"HTTPS://SHO.RT./loop",
		"https://sho.rt:443/loop",
		"https://sub.sho.rt/loop",
		"http://go.example/loop",
		"http://localhost/",
		"http://LOCALHOST./",
		"http://app.localhost/",
		"http://127.0.0.1/",
		"http://127.1/",
		"http://2130706433/",
		"http://0x7f.1/",
		"http://0x7f000001/",
		"http://0177.0.0.1/",
		"http://017700000001/",
		"http://0/",
		"http://0.0.0.0/",
		"http://10.0.0.1/",
		"http://172.16.5.4/",
		"http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/",
		"http://255.255.255.255/",
		"http://224.0.0.1/",
		"http://[::1]/",
		"http://[::]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]/",
		"http://[::127.0.0.1]/",
		"http://[64:ff9b::a00:1]/",
		"http://[2002:7f00:1::]/",
		"http://[fe80::1]/",
		"http://[fe80::1%25eth0]/",
		"http://[fc00::1]/",
		"http://[fd12:3456::1]/",
		"http://[ff02::1]/",
		"http://%31%32%37.0.0.1/",
		"http://ex%61mple.com/",
		"http://b%C3%BCcher.example/",
		"http://[::1]x/",
		"http://example.com]/",
		"http://a:b:c/",
		"http://example.com/#%zz",
		"http://[example.com]/",
		"http://%E2%80%AElocalhost/",
		"http://%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%81%EF%BD%8C%EF%BD%88%EF%BD%8F%EF%BD%93%EF%BD%94/",
		"http://%6c%6f%63%61%6c%68%6f%73%74/",
		"http://ｌｏｃａｌｈｏｓｔ/",
		"http://１２７.０.０.１/",
		"http://127。0。0。1/",
		"http://1.2.3.4.5/",
		"http://256.1.1.1/",
		"http://08.1.1.1/",
		"http://0x100000000/",
		"http://example..com/",
		"http://example.com../",
		"http://./",
		"http://.example.com/",
		"http://exa<mple.com/",
		"http://example.com:0/",
		"http://example.com:65536/",
		"http://example.com:http/",
		"http://[::1/",
		"http://example.com/%zz",
		"https://example.com/" + strings.Repeat("a", 2048),
		"http://\xff.example/",
	}
	for _, raw := range hostile {
		l, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: raw})
		if !errors.Is(err, shortid.ErrInvalidURL) {
			t.Errorf("Shorten(%q) = %+v, %v; want ErrInvalidURL", raw, l, err)
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
		{"https://BÜCHER.example/ä", "https://bücher.example/ä"},
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
