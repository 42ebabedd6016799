package shortid_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// A Handler serves the shortener's JSON API and its redirects. Here it is
// driven with httptest. In a program, serve it from an http.Server with
// timeouts, as newServer below does, not with http.ListenAndServe, whose
// server waits for ever on a slow client.
func ExampleNewHandler() {
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt"})
	if err != nil {
		panic(err)
	}
	h, err := shortid.NewHandler(s, shortid.HandlerOptions{})
	if err != nil {
		panic(err)
	}

	req := httptest.NewRequest("POST", "/shorten",
		strings.NewReader(`{"url": "https://example.com/launch", "custom_alias": "launch", "ttl": "24h"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var link struct {
		ShortURL    string `json:"short_url"`
		OriginalURL string `json:"original_url"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &link); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, link.ShortURL, "->", link.OriginalURL)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/launch", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nosuch", nil))
	fmt.Print(rec.Code, " ", rec.Body)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/launch", nil))
	fmt.Println(rec.Code, rec.Header().Get("Allow"))

	srv := newServer("127.0.0.1:8080", h)
	fmt.Println("server read timeout:", srv.ReadTimeout)

	// Close flushes the buffered clicks to the Store.
	if err := s.Close(); err != nil {
		panic(err)
	}
	// Output:
	// 201 https://sho.rt/launch -> https://example.com/launch
	// 302 https://example.com/launch
	// 404 {"error":"shortid: not found","code":"not_found"}
	// 405 GET, HEAD
	// server read timeout: 10s
}

// newServer is how a program serves a Handler: every timeout set, so that
// slow or idle clients cannot hold connections open (then call
// srv.ListenAndServe, and srv.Shutdown on exit).
func newServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}
