package benchmarks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// redirectTarget is where every benchmarked redirect points.
const redirectTarget = "https://example.com/a/reasonably/long/path?utm_source=benchmark"

// BenchmarkRedirect measures GET /{key} → 302 over loopback HTTP/1.1 with
// keep-alive: blueprint's shortid.Handler on the in-memory store, and a bare
// net/http handler that writes the same status and headers for one fixed
// key. Client and server share the process and the machine's cores, and the
// Go client costs far more CPU than either handler, so this only checks the
// path end to end and shows allocations; the throughput comparison the
// README quotes comes from redirect-wrk.sh (wrk against cmd/redirectserver,
// each pinned to its own core).
func BenchmarkRedirect(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt"})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		link, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: redirectTarget})
		if err != nil {
			b.Fatal(err)
		}
		h, err := shortid.NewHandler(s, shortid.HandlerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchRedirect(b, h, "/"+link.Key)
	})
	b.Run("bare-nethttp", func(b *testing.B) {
		const key = "/aB3dE5g"
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != key {
				http.NotFound(w, r)
				return
			}
			hdr := w.Header()
			hdr["Location"] = []string{redirectTarget}
			hdr["Cache-Control"] = []string{"no-store"}
			w.WriteHeader(http.StatusFound)
		})
		benchRedirect(b, h, key)
	})
}

// benchRedirect serves h on a loopback listener and has 4 client goroutines
// per GOMAXPROCS issue GET path over kept-alive connections, not following
// the redirect.
func benchRedirect(b *testing.B, h http.Handler, path string) {
	const perProc = 4
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := srv.URL + path

	b.ReportAllocs()
	b.SetParallelism(perProc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != redirectTarget {
				b.Errorf("GET %s: %d Location %q", path, resp.StatusCode, resp.Header.Get("Location"))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
