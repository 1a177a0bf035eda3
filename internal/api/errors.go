package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/leaderboard"
)

// errorBody is the contract's error shape (section 5).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// mapping is the one place where domain errors become HTTP statuses.
var mapping = []struct {
	err    error
	status int
	code   string
}{
	{leaderboard.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{leaderboard.ErrUnauthorized, http.StatusUnauthorized, "unauthenticated"},
	{leaderboard.ErrNotFound, http.StatusNotFound, "not_found"},
	{leaderboard.ErrConflict, http.StatusConflict, "conflict"},
	{leaderboard.ErrPayloadTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{leaderboard.ErrTotalOutOfRange, http.StatusUnprocessableEntity, "total_out_of_range"},
	{leaderboard.ErrNotCached, http.StatusServiceUnavailable, "not_cached"},
	{leaderboard.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
}

// statusOf maps err to its status and code; anything unknown is a 500 whose
// message is not shown to the client (it is logged).
func statusOf(err error) (int, string, bool) {
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			return m.status, m.code, true
		}
	}
	return http.StatusInternalServerError, "internal", false
}

// abort records err for the error middleware and stops the handler chain.
func abort(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// errorMiddleware writes the contract's error body for the last error a
// handler recorded, unless the handler already wrote a response.
func (s *Server) errorMiddleware(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	status, code, known := statusOf(err)
	msg := err.Error()
	if !known {
		s.log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "err", err)
		msg = "internal error"
	}
	c.JSON(status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}
