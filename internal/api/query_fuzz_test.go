package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzQueryParams sends arbitrary query strings and path segments to every
// read endpoint: the answer is never a 5xx (the stores here always answer),
// never a panic, and an error always has the contract's body.
func FuzzQueryParams(f *testing.F) {
	for _, seed := range []struct{ path, query string }{
		{"rankings", "window=daily&limit=10"},
		{"rankings", "window=custom&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"},
		{"rankings", "window=weekly&date=2026-02-30"},
		{"rankings", "window=alltime&cursor=%%%&offset=1"},
		{"rankings", "window=daily&top_percent=10.5&top=3"},
		{"rankings", "window=daily&limit=1001&source=cache"},
		{"players/p1", "window=daily&context=51"},
		{"players/a%2Fb%2520c", "window=alltime&context=0"},
		{"players/p1/events", "window=alltime&source=cache"},
		{"export", "window=daily&format=xml"},
		{"export", "window=daily"},
		{"rankings", "window=daily&date=10000-01-01&x=1"},
		{"rankings", "window=custom&from=2026-12-01T00:00:00.0001Z&to=2028-12-02T00:00:00Z"},
	} {
		f.Add(seed.path, seed.query)
	}
	q := newQueryServer(f, memBoards{"b1": boardOfSize(3)})
	f.Fuzz(func(t *testing.T, path, query string) {
		p := "/leaderboards/b1/" + path
		if _, err := url.ParseRequestURI(p); err != nil || strings.ContainsAny(path, "?#") {
			return // not a request a client can send
		}
		u := p + "?" + query
		req, err := http.NewRequest(http.MethodGet, "http://leaderboard.test"+u, nil)
		if err != nil || strings.ContainsAny(u, " \t\r\n") {
			return // not a request line a client can send
		}
		rec := httptest.NewRecorder()
		q.srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %s", u, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Code != 404 {
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
				t.Fatalf("GET %s: %d without the error body: %s", u, rec.Code, rec.Body.String())
			}
		}
	})
}
