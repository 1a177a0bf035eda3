package api_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"example.com/leaderboard/internal/api"
)

// TestOpenAPIMatchesRoutes: every route registered in the Gin engine is in
// openapi.yaml with its method, and every operation of openapi.yaml is a
// registered route, so the two cannot drift.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv := newBareServer()
	srv.RegisterEvents(nil, time.Minute, time.Now)
	srv.RegisterQueries(api.QueryDeps{})
	srv.RegisterAdmin(nil)

	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var routes []string
	for _, r := range srv.Engine().Routes() {
		routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(routes)

	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPIYAML, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "an OpenAPI 3 document")
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	var described []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if methods[m] {
				described = append(described, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(described)
	assert.Equal(t, routes, described)

	// It is served.
	req, _ := http.NewRequest(http.MethodGet, "/openapi.yaml", nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, api.OpenAPIYAML, rec.Body.Bytes())
	assert.Contains(t, rec.Header().Get("Content-Type"), "yaml")
}
