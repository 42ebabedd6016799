package shortid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
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

// BenchmarkHandlerResolve measures GET /{key} in process: routing, the
// Shortener's Resolve and writing the redirect headers, without a network.
func BenchmarkHandlerResolve(b *testing.B) {
	s, err := New(NewMemStore(), Options{BaseURL: "https://sho.rt"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h, err := NewHandler(s, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	link, err := s.Shorten(context.Background(), ShortenRequest{URL: "https://example.com/benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/"+link.Key, nil)
		w := &discardWriter{hdr: make(http.Header)}
		for pb.Next() {
			h.ServeHTTP(w, req)
			if w.status != http.StatusFound {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}
