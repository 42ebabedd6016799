package shortid_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/blueprint-go/blueprint/shortid"
)

// A Handler serves the shortener's JSON API and its redirects. Here it is
// driven with httptest; in a program, pass it to http.ListenAndServe.
func ExampleNewHandler() {
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
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

	var _ http.Handler = h
	// Output:
	// 201 https://sho.rt/launch -> https://example.com/launch
	// 302 https://example.com/launch
	// 404 {"error":"shortid: not found","code":"not_found"}
	// 405 GET, HEAD
}
