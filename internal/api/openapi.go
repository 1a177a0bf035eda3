package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPIYAML is the OpenAPI 3 description of the whole HTTP API, served at
// GET /openapi.yaml. A test checks it against the routes registered.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

func serveOpenAPI(c *gin.Context) {
	if c.Request.URL.RawQuery != "" {
		abort(c, invalid("GET /openapi.yaml takes no query parameters"))
		return
	}
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", OpenAPIYAML)
}
