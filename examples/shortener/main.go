// Command shortener serves a URL shortener over HTTP on the in-memory store.
//
//	go run ./examples/shortener -addr 127.0.0.1:8080
//
// Flags:
//
//	-addr      listen address (default 127.0.0.1:8080)
//	-base      base of the short URLs it hands out (default http://<addr>,
//	           with localhost for a wildcard address such as :8080)
//	-redirect  redirect status: 301, 302, 307 or 308 (default 302)
//
// Then, for example:
//
//	curl -s --json '{"url": "https://go.dev/doc/", "custom_alias": "godoc"}' localhost:8080/shorten
//	curl -si localhost:8080/godoc
//	curl -s localhost:8080/godoc/stats
//
// Links live in memory and vanish when the process ends. SIGINT or SIGTERM
// stops it gracefully: requests in flight finish, then the shortener
// flushes its click counts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	base := flag.String("base", "", "base URL of short links (default http://<addr>)")
	redirect := flag.Int("redirect", http.StatusFound, "redirect status: 301, 302, 307 or 308")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *base, *redirect, logger); err != nil {
		logger.Error("shortener", "err", err)
		os.Exit(1)
	}
}

func run(addr, base string, redirect int, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if base == "" {
		base = defaultBase(ln.Addr())
	}
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: base})
	if err != nil {
		ln.Close()
		return err
	}
	h, err := shortid.NewHandler(s, shortid.HandlerOptions{Redirect: redirect, Logger: logger})
	if err != nil {
		ln.Close()
		s.Close()
		return err
	}
	srv := newServer(h, logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "base", base, "redirect", redirect)

	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
		<-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := s.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing the shortener: %w", cerr)
	}
	return err
}

// newServer returns the server for h, with every timeout set so that a
// slow or idle client cannot hold a connection open: the Handler bounds
// only the request body it reads itself.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// defaultBase is the base URL of short links served on addr: its address,
// except that a wildcard host (":8080", "0.0.0.0", "::") becomes localhost,
// since http://[::]:8080/key is no link anyone can follow.
func defaultBase(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
