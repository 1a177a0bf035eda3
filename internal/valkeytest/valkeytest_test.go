package valkeytest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/valkeytest"
)

func TestStartClientRestartStop(t *testing.T) {
	ctx := context.Background()
	s := valkeytest.Start(t)
	require.NotEqual(t, 6379, s.Port())
	c := s.Client(t)

	require.NoError(t, c.Do(ctx, c.B().Set().Key("k").Value("v").Build()).Error())
	v, err := c.Do(ctx, c.B().Get().Key("k").Build()).ToString()
	require.NoError(t, err)
	require.Equal(t, "v", v)

	// No persistence configured.
	cfg, err := c.Do(ctx, c.B().ConfigGet().Parameter("save").Build()).AsStrMap()
	require.NoError(t, err)
	require.Equal(t, "", cfg["save"])
	cfg, err = c.Do(ctx, c.B().ConfigGet().Parameter("appendonly").Build()).AsStrMap()
	require.NoError(t, err)
	require.Equal(t, "no", cfg["appendonly"])

	// Restart: same port, empty data, the client reconnects.
	addr := s.Addr()
	s.Restart()
	require.Equal(t, addr, s.Addr())
	var getErr error
	for range 50 {
		getErr = c.Do(ctx, c.B().Get().Key("k").Build()).Error()
		if valkey.IsValkeyNil(getErr) {
			break
		}
	}
	require.True(t, valkey.IsValkeyNil(getErr), "after restart the key must be gone, got %v", getErr)

	s.Stop()
	require.Error(t, c.Do(ctx, c.B().Ping().Build()).Error())
	s.Stop() // idempotent
}

func TestTwoServersAreIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := valkeytest.Start(t), valkeytest.Start(t)
	require.NotEqual(t, a.Addr(), b.Addr())
	ca, cb := a.Client(t), b.Client(t)
	require.NoError(t, ca.Do(ctx, ca.B().Set().Key("x").Value("1").Build()).Error())
	require.True(t, valkey.IsValkeyNil(cb.Do(ctx, cb.B().Get().Key("x").Build()).Error()))
}
