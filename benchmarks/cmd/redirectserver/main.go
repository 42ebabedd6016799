// Command redirectserver serves one short link for an external load
// generator, so that the redirect throughput of shortid.Handler can be
// compared with a bare net/http handler writing the same response
// (benchmarks/redirect-wrk.sh drives it with wrk).
//
//	go run ./cmd/redirectserver -impl blueprint -addr 127.0.0.1:8089
//	go run ./cmd/redirectserver -impl bare -addr 127.0.0.1:8089
//
// Once listening it prints one line, the URL to load, on standard output.
// -impl blueprint serves shortid.Handler with default options (rate limits
// included) on the in-memory store holding one link; -impl bare serves a
// net/http HandlerFunc that answers the same path with the identical 302
// (Location, Cache-Control: no-store, empty body) and 404 otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// target is where the served link points.
const target = "https://example.com/a/reasonably/long/path?utm_source=benchmark"

func main() {
	impl := flag.String("impl", "blueprint", "handler to serve: blueprint or bare")
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	flag.Parse()
	if err := run(*impl, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(impl, addr string) error {
	var (
		h    http.Handler
		path string
	)
	switch impl {
	case "blueprint":
		s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "http://" + addr})
		if err != nil {
			return err
		}
		defer s.Close()
		link, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: target})
		if err != nil {
			return err
		}
		bh, err := shortid.NewHandler(s, shortid.HandlerOptions{})
		if err != nil {
			return err
		}
		h, path = bh, "/"+link.Key
	case "bare":
		path = "/aB3dE5g"
		h = bareHandler(path)
	default:
		return fmt.Errorf("unknown -impl %q (want blueprint or bare)", impl)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}
	fmt.Printf("http://%s%s\n", ln.Addr(), path)
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// bareHandler answers GET path with the redirect shortid.Handler sends for
// a link without expiry under the default 302, and anything else with 404.
func bareHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		hdr := w.Header()
		hdr["Location"] = []string{target}
		hdr["Cache-Control"] = []string{"no-store"}
		w.WriteHeader(http.StatusFound)
	})
}
