package shortid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// discardWriter is a ResponseWriter that keeps one header map and drops the
// body, so a benchmark measures the handler rather than a recorder.
type discardWriter struct {
	hdr    http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.hdr }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkHandlerResolve measures GET /{key} in process, without a
// network, on all cores: "shortener" is Shortener.Resolve alone, "handler"
// adds routing and the redirect headers, and "handler-throttling" is the
// handler while another client is out of probe tokens, so that every
// redirect also looks its client up in the rate-limit table.
func BenchmarkHandlerResolve(b *testing.B) {
	setup := func(b *testing.B) (*Shortener, *Handler, string) {
		s, err := New(NewMemStore(), Options{BaseURL: "https://sho.rt"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		h, err := NewHandler(s, HandlerOptions{ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
		if err != nil {
			b.Fatal(err)
		}
		link, err := s.Shorten(context.Background(), ShortenRequest{URL: "https://example.com/benchmark"})
		if err != nil {
			b.Fatal(err)
		}
		return s, h, link.Key
	}
	b.Run("shortener", func(b *testing.B) {
		s, _, key := setup(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Resolve(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	serve := func(b *testing.B, h *Handler, key string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/"+key, nil)
			w := &discardWriter{hdr: make(http.Header)}
			for pb.Next() {
				h.ServeHTTP(w, req)
				if w.status != http.StatusFound {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
	b.Run("handler", func(b *testing.B) {
		_, h, key := setup(b)
		serve(b, h, key)
	})
	b.Run("handler-throttling", func(b *testing.B) {
		_, h, key := setup(b)
		for range 2 {
			req := httptest.NewRequest(http.MethodGet, "/nosuch", nil)
			req.RemoteAddr = "198.51.100.1:1"
			h.ServeHTTP(&discardWriter{hdr: make(http.Header)}, req)
		}
		req := httptest.NewRequest(http.MethodGet, "/nosuch", nil)
		req.RemoteAddr = "198.51.100.1:1"
		w := &discardWriter{hdr: make(http.Header)}
		if h.ServeHTTP(w, req); w.status != http.StatusTooManyRequests {
			b.Fatalf("no client is throttled: status %d", w.status)
		}
		serve(b, h, key)
	})
}
